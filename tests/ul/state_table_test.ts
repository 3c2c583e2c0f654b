import assert from "node:assert/strict";
import { ACTIONS } from "../../src/ul/actions.ts";
import {
  type ActionName,
  EVENTS,
  lookupAction,
  type State,
  STATE_TABLE,
  STATES,
} from "../../src/ul/state_table.ts";

// PS3.8 Table 9-10, transcribed row by row (event: cells for Sta1..Sta13, "-" blank).
const TABLE_9_10: Record<string, string> = {
  Evt1: "AE-1 - - - - - - - - - - - -",
  Evt2: "- - - AE-2 - - - - - - - - -",
  Evt3: "- AA-1 AA-8 - AE-3 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
  Evt4: "- AA-1 AA-8 - AE-4 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
  Evt5: "AE-5 - - - - - - - - - - - -",
  Evt6: "- AE-6 AA-8 - AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-7",
  Evt7: "- - AE-7 - - - - - - - - - -",
  Evt8: "- - AE-8 - - - - - - - - - -",
  Evt9: "- - - - - DT-1 - AR-7 - - - - -",
  Evt10: "- AA-1 AA-8 - AA-8 DT-2 AR-6 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
  Evt11: "- - - - - AR-1 - - - - - - -",
  Evt12: "- AA-1 AA-8 - AA-8 AR-2 AR-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-6",
  Evt13: "- AA-1 AA-8 - AA-8 AA-8 AR-3 AA-8 AA-8 AR-10 AR-3 AA-8 AA-6",
  Evt14: "- - - - - - - AR-4 AR-9 - - AR-4 -",
  Evt15: "- - AA-1 AA-2 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 AA-1 -",
  Evt16: "- AA-2 AA-3 - AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-3 AA-2",
  Evt17: "- AA-5 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AA-4 AR-5",
  Evt18: "- AA-2 - - - - - - - - - - AA-2",
  Evt19: "- AA-1 AA-8 - AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-8 AA-7",
};

Deno.test("every cell of the state table matches PS3.8 Table 9-10", () => {
  let cells = 0;
  for (const event of EVENTS) {
    const row = TABLE_9_10[event].split(" ");
    assert.equal(row.length, 13, `row ${event} has 13 cells`);
    STATES.forEach((state: State, i: number) => {
      const expected = row[i] === "-" ? undefined : row[i];
      assert.equal(lookupAction(state, event), expected, `${event} in ${state}`);
      cells++;
    });
  }
  assert.equal(cells, 19 * 13);
});

Deno.test("every action named in the table has a function", () => {
  const named = new Set<ActionName>();
  for (const row of Object.values(STATE_TABLE)) {
    for (const action of Object.values(row)) named.add(action as ActionName);
  }
  assert.equal(named.size, 28);
  for (const name of named) assert.equal(typeof ACTIONS[name], "function", name);
});

Deno.test("action functions are named as in PS3.8 (ae1, dt2, ar10, aa8)", () => {
  assert.equal(ACTIONS["AE-1"].name, "ae1");
  assert.equal(ACTIONS["DT-2"].name, "dt2");
  assert.equal(ACTIONS["AR-10"].name, "ar10");
  assert.equal(ACTIONS["AA-8"].name, "aa8");
});
