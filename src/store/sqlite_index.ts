/**
 * The store index on node:sqlite (built into Deno): one database file, `.dimse-index.sqlite`,
 * in the store folder. Four tables, one per Query/Retrieve level (patients, studies, series,
 * instances), each holding its entity's attributes as DICOM JSON; the instance row holds the
 * whole data set before Pixel Data. Counts, Modalities in Study and SOP Classes in Study are
 * computed when asked (PS3.4 C.6.1.1). Matching is {@linkcode matchesIdentifier}; SQL narrows
 * the rows by unique keys first, and rows are read in pages so that `find` is lazy.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DataElement, DataSet } from "../dataset/dataset.ts";
import type {
  IndexAddOptions,
  IndexedInstance,
  IndexQuery,
  InstanceIndex,
  QueryRetrieveLevel,
} from "./instance_index.ts";
import { lazyIndexedInstance } from "./_lazy_instance.ts";
import { isUniversal, matchesIdentifier, type MatchingOptions } from "./matching.ts";
import {
  checkIdentifier,
  instanceLevelAttributes,
  levelDepth,
  levelOfKey,
  QUERY_RETRIEVE_LEVEL_TAG,
  SPECIFIC_CHARACTER_SET_TAG,
  UNIQUE_KEYS,
} from "./query_keys.ts";
import { logLines } from "../log_line.ts";

/** File name of the index database inside the store folder. */
export const INDEX_FILE_NAME = ".dimse-index.sqlite";

/** Options of {@linkcode openSqliteIndex}. */
export interface SqliteIndexOptions {
  /**
   * SQLite `synchronous` setting: "full" (default) makes each `add` durable before it
   * resolves, so an acknowledged instance survives a power loss; "normal" survives a crash of
   * the process only, and is faster.
   */
  durability?: "full" | "normal";
  /** Rows read from SQLite per page while matching; default 256. */
  pageSize?: number;
  /** Combined date-time matching (PS3.4 C.2.2.2.5.1) for every query; default false. */
  combinedDateTime?: boolean;
  /**
   * Where a failed write of queued rows is reported, control characters escaped (see
   * `printable`); default console.error.
   */
  log?: (line: string) => void;
}

/** One row of the index as listed by {@linkcode SqliteIndex.entries}. */
export interface IndexEntry {
  /** SOP Instance UID. */
  sopInstanceUid: string;
  /** Path relative to the store folder. */
  path: string;
  /** File size recorded. */
  size: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS patients (
  patient_id TEXT PRIMARY KEY,
  attrs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
  study_uid TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS studies_patient ON studies (patient_id);
CREATE TABLE IF NOT EXISTS series (
  series_uid TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL,
  modality TEXT NOT NULL,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_study ON series (study_uid);
CREATE TABLE IF NOT EXISTS instances (
  sop_instance_uid TEXT PRIMARY KEY,
  series_uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL,
  transfer_syntax_uid TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances (series_uid);
CREATE INDEX IF NOT EXISTS instances_study ON instances (study_uid);
`;

type Row = Record<string, string | number | null>;

/**
 * Rows added with `durable: false` are written once no row has been added for this long: while
 * instances keep arriving the rows wait, and are then written together, each costing a
 * fraction of a transaction of its own, and none of them while an association is sending.
 */
const QUEUE_IDLE_MS = 20;
/** The longest a queued row waits for a pause in the adds. */
const QUEUE_MAX_AGE_MS = 1000;
/**
 * The most rows queued (each holds its data set's head, a few KiB): one more has them written
 * at once, after the current task.
 */
const QUEUE_MAX_ROWS = 4096;
/** The wait before writing queued rows again after a write failed. */
const QUEUE_RETRY_MS = 1000;

/** Most values of a unique key narrowed on in SQL; longer lists are matched row by row. */
const MAX_SQL_VALUES = 500;

function textOf(dataSet: DataSet, tag: string): string {
  const v = dataSet[tag]?.Value?.[0];
  if (v === null || v === undefined) return "";
  return typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : "";
}

function parse(json: string | number | null | undefined): DataSet {
  return typeof json === "string" ? JSON.parse(json) as DataSet : {};
}

/** Each level's table, its key column, and the join to the level above. */
const LEVEL_SQL: Record<QueryRetrieveLevel, { from: string; driver: string }> = {
  PATIENT: { from: "patients p", driver: "p" },
  STUDY: {
    from: "studies st LEFT JOIN patients p ON p.patient_id = st.patient_id",
    driver: "st",
  },
  SERIES: {
    from: "series se JOIN studies st ON st.study_uid = se.study_uid " +
      "LEFT JOIN patients p ON p.patient_id = st.patient_id",
    driver: "se",
  },
  IMAGE: {
    from: "instances i JOIN series se ON se.series_uid = i.series_uid " +
      "JOIN studies st ON st.study_uid = se.study_uid " +
      "LEFT JOIN patients p ON p.patient_id = st.patient_id",
    driver: "i",
  },
};

const COLUMNS: Record<QueryRetrieveLevel, string> = {
  PATIENT: "p.patient_id AS patient_id, p.attrs AS pa",
  STUDY: "st.patient_id AS patient_id, st.study_uid AS study_uid, p.attrs AS pa, st.attrs AS sa",
  SERIES: "st.patient_id AS patient_id, st.study_uid AS study_uid, se.series_uid AS series_uid, " +
    "p.attrs AS pa, st.attrs AS sa, se.attrs AS sea",
  IMAGE: "st.patient_id AS patient_id, st.study_uid AS study_uid, se.series_uid AS series_uid, " +
    "p.attrs AS pa, st.attrs AS sa, se.attrs AS sea, i.attrs AS ia, i.path AS path, " +
    "i.sop_instance_uid AS sop_instance_uid, i.sop_class_uid AS sop_class_uid, " +
    "i.transfer_syntax_uid AS transfer_syntax_uid, i.size AS size",
};

/** Column holding each level's unique key, for narrowing by SQL. */
const KEY_COLUMNS: Record<QueryRetrieveLevel, string> = {
  PATIENT: "p.patient_id",
  STUDY: "st.study_uid",
  SERIES: "se.series_uid",
  IMAGE: "i.sop_instance_uid",
};

/** The store index on node:sqlite. Open it with {@linkcode openSqliteIndex}. */
export class SqliteIndex implements InstanceIndex {
  /** The database file. */
  readonly file: string;
  #db: DatabaseSync;
  #pageSize: number;
  #combinedDateTime: boolean;
  #closed = false;
  #statements = new Map<string, StatementSync>();
  /** The configured `synchronous` level, and the one the connection is at now. */
  #synchronous: "FULL" | "NORMAL";
  #synchronousNow: "FULL" | "NORMAL";
  /** Rows added with `durable: false` and not written yet, by SOP Instance UID, oldest first. */
  #queued = new Map<string, IndexedInstance>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the first of the queued rows, and the last row, were queued (performance.now()). */
  #firstQueuedAt = 0;
  #lastQueuedAt = 0;
  /** Whether the pending timer retries a failed write (new rows then wait for it). */
  #retrying = false;
  #log: (line: string) => void;

  /** Opens (creating when missing) the database file; prefer {@linkcode openSqliteIndex}. */
  constructor(file: string, options: SqliteIndexOptions = {}) {
    this.file = file;
    this.#db = new DatabaseSync(file);
    this.#pageSize = options.pageSize ?? 256;
    this.#combinedDateTime = options.combinedDateTime ?? false;
    this.#log = logLines(options.log);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#synchronous = options.durability === "normal" ? "NORMAL" : "FULL";
    this.#synchronousNow = this.#synchronous;
    this.#db.exec(`PRAGMA synchronous = ${this.#synchronous}`);
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec(SCHEMA);
  }

  #statement(sql: string): StatementSync {
    if (this.#closed) throw new Error("Store index is closed");
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` in a transaction whose commit is flushed as `synchronous` says. */
  #transaction<T>(work: () => T, synchronous = this.#synchronous): T {
    this.#setSynchronous(synchronous);
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /**
   * Records an instance (replacing any row with its SOP Instance UID) and its parents'
   * attributes. A durable add is committed and flushed before it resolves. With
   * `durable: false` the row is queued, and the queued rows are written together, in one
   * transaction that is not flushed (WAL with synchronous=NORMAL: it survives a crash of the
   * process once written), once no row has been added for 20 ms, at the latest a second after
   * the first of them was queued, and at once (after the current task) when 4096 are queued.
   * Every read of the index sees queued rows: `get` looks at the queue, the others write it
   * first. A write that fails is logged and retried a second later; the rows stay queued.
   */
  add(instance: IndexedInstance, options: IndexAddOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("Store index is closed"));
    if (options.durable === false) {
      const now = performance.now();
      if (this.#queued.size === 0) this.#firstQueuedAt = now;
      this.#lastQueuedAt = now;
      this.#queued.delete(instance.sopInstanceUid);
      this.#queued.set(instance.sopInstanceUid, instance);
      if (this.#queued.size >= QUEUE_MAX_ROWS && !this.#retrying) this.#scheduleFlush(0, true);
      else if (this.#flushTimer === undefined) this.#scheduleFlush(QUEUE_IDLE_MS, false);
      return Promise.resolve();
    }
    this.#flush();
    this.#transaction(() => this.#write(instance), this.#synchronous);
    return Promise.resolve();
  }

  /**
   * Writes the rows queued by `add` with `durable: false` now, in one transaction not flushed
   * to disk; rejects (keeping them queued, to be retried) when the write fails.
   */
  flush(): Promise<void> {
    try {
      if (!this.#closed) this.#flush();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes the queued rows, in one transaction; throws (keeping them queued) when it fails. */
  #flush(): void {
    if (this.#queued.size === 0) return;
    const rows = [...this.#queued.values()];
    this.#transaction(() => {
      for (const row of rows) this.#write(row);
    }, "NORMAL");
    for (const row of rows) {
      // A row queued again while this one was written stays queued.
      if (this.#queued.get(row.sopInstanceUid) === row) this.#queued.delete(row.sopInstanceUid);
    }
  }

  /**
   * Sets the timer that writes the queued rows (replacing a pending one) in `delay` ms. Unless
   * the write is `due`, the timer then waits on while rows keep coming (for the pause, or for
   * the oldest row's age).
   */
  #scheduleFlush(delay: number, due: boolean): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed || this.#queued.size === 0) return;
      if (!due) {
        const now = performance.now();
        const wait = Math.min(
          this.#lastQueuedAt + QUEUE_IDLE_MS - now,
          this.#firstQueuedAt + QUEUE_MAX_AGE_MS - now,
        );
        if (wait >= 1) {
          this.#scheduleFlush(wait, false);
          return;
        }
      }
      this.#retrying = false;
      try {
        this.#flush();
      } catch (error) {
        this.#log(
          `index: ${this.#queued.size} instance(s) not written yet, retrying in 1 s: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        this.#retrying = true;
        this.#scheduleFlush(QUEUE_RETRY_MS, true);
      }
    }, delay);
  }

  /** The statements of one add, inside a transaction. */
  #write(instance: IndexedInstance): void {
    const ds = instance.dataSet;
    const patientId = textOf(ds, UNIQUE_KEYS.PATIENT);
    const studyUid = textOf(ds, UNIQUE_KEYS.STUDY);
    const seriesUid = textOf(ds, UNIQUE_KEYS.SERIES);
    const modality = textOf(ds, "00080060");
    const levels = levelRows(ds);
    const previous = this.#statement(
      "SELECT series_uid FROM instances WHERE sop_instance_uid = ?",
    ).get(instance.sopInstanceUid) as Row | undefined;
    const study = this.#statement("SELECT patient_id FROM studies WHERE study_uid = ?").get(
      studyUid,
    ) as Row | undefined;
    this.#statement(
      "INSERT INTO patients (patient_id, attrs) VALUES (?, ?) " +
        "ON CONFLICT (patient_id) DO UPDATE SET attrs = excluded.attrs " +
        // An unchanged row is not rewritten: its pages stay clean, the commit writes less.
        "WHERE attrs IS NOT excluded.attrs",
    ).run(patientId, levels.patient);
    this.#statement(
      "INSERT INTO studies (study_uid, patient_id, attrs) VALUES (?, ?, ?) " +
        "ON CONFLICT (study_uid) DO UPDATE SET patient_id = excluded.patient_id, " +
        "attrs = excluded.attrs " +
        "WHERE patient_id IS NOT excluded.patient_id OR attrs IS NOT excluded.attrs",
    ).run(studyUid, patientId, levels.study);
    this.#statement(
      "INSERT INTO series (series_uid, study_uid, modality, attrs) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (series_uid) DO UPDATE SET study_uid = excluded.study_uid, " +
        "modality = excluded.modality, attrs = excluded.attrs " +
        "WHERE study_uid IS NOT excluded.study_uid OR modality IS NOT excluded.modality " +
        "OR attrs IS NOT excluded.attrs",
    ).run(seriesUid, studyUid, modality, levels.series);
    this.#statement(
      "INSERT OR REPLACE INTO instances (sop_instance_uid, series_uid, study_uid, " +
        "sop_class_uid, transfer_syntax_uid, path, size, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      instance.sopInstanceUid,
      seriesUid,
      studyUid,
      instance.sopClassUid,
      instance.transferSyntaxUid,
      instance.path,
      instance.size,
      JSON.stringify(ds),
    );
    if (previous && previous.series_uid !== seriesUid) this.#prune(String(previous.series_uid));
    // A study that moved to another patient may leave that patient without studies.
    if (study && study.patient_id !== patientId) {
      const before = String(study.patient_id);
      if (!this.#statement("SELECT 1 FROM studies WHERE patient_id = ? LIMIT 1").get(before)) {
        this.#statement("DELETE FROM patients WHERE patient_id = ?").run(before);
      }
    }
  }

  #setSynchronous(level: "FULL" | "NORMAL"): void {
    if (level === this.#synchronousNow || this.#closed) return;
    this.#db.exec(`PRAGMA synchronous = ${level}`);
    this.#synchronousNow = level;
  }

  /** Deletes a series with no instance left, then its study and patient when empty. */
  #prune(seriesUid: string): void {
    const series = this.#statement("SELECT study_uid FROM series WHERE series_uid = ?").get(
      seriesUid,
    ) as Row | undefined;
    if (!series) return;
    const left = this.#statement("SELECT 1 FROM instances WHERE series_uid = ? LIMIT 1").get(
      seriesUid,
    );
    if (left) return;
    this.#statement("DELETE FROM series WHERE series_uid = ?").run(seriesUid);
    const studyUid = String(series.study_uid);
    if (this.#statement("SELECT 1 FROM series WHERE study_uid = ? LIMIT 1").get(studyUid)) return;
    const study = this.#statement("SELECT patient_id FROM studies WHERE study_uid = ?").get(
      studyUid,
    ) as Row | undefined;
    this.#statement("DELETE FROM studies WHERE study_uid = ?").run(studyUid);
    if (!study) return;
    const patientId = String(study.patient_id);
    if (this.#statement("SELECT 1 FROM studies WHERE patient_id = ? LIMIT 1").get(patientId)) {
      return;
    }
    this.#statement("DELETE FROM patients WHERE patient_id = ?").run(patientId);
  }

  /** Forgets an instance, and its series, study and patient once they hold nothing. */
  remove(sopInstanceUid: string): Promise<void> {
    this.#flush();
    this.#transaction(() => {
      const row = this.#statement("SELECT series_uid FROM instances WHERE sop_instance_uid = ?")
        .get(sopInstanceUid) as Row | undefined;
      if (!row) return;
      this.#statement("DELETE FROM instances WHERE sop_instance_uid = ?").run(sopInstanceUid);
      this.#prune(String(row.series_uid));
    });
    return Promise.resolve();
  }

  /** The instance with this SOP Instance UID, if indexed. */
  get(sopInstanceUid: string): Promise<IndexedInstance | undefined> {
    const queued = this.#queued.get(sopInstanceUid);
    if (queued !== undefined) return Promise.resolve(queued);
    const row = this.#statement(
      "SELECT sop_instance_uid, sop_class_uid, transfer_syntax_uid, path, size, attrs " +
        "FROM instances WHERE sop_instance_uid = ?",
    ).get(sopInstanceUid) as Row | undefined;
    return Promise.resolve(row ? instanceOf(row, "attrs") : undefined);
  }

  /** Every row's SOP Instance UID, path and size, for the start check and re-indexing. */
  *entries(): IterableIterator<IndexEntry> {
    this.#flush();
    let after = "";
    while (true) {
      const rows = this.#statement(
        "SELECT sop_instance_uid, path, size FROM instances WHERE sop_instance_uid > ? " +
          "ORDER BY sop_instance_uid LIMIT ?",
      ).all(after, this.#pageSize) as Row[];
      for (const row of rows) {
        yield {
          sopInstanceUid: String(row.sop_instance_uid),
          path: String(row.path),
          size: Number(row.size),
        };
      }
      if (rows.length < this.#pageSize) return;
      after = String(rows[rows.length - 1].sop_instance_uid);
    }
  }

  /** Empties the index (before a rebuild). */
  clear(): Promise<void> {
    this.#queued.clear();
    this.#transaction(() => {
      this.#db.exec(
        "DELETE FROM instances; DELETE FROM series; DELETE FROM studies; " +
          "DELETE FROM patients;",
      );
    });
    return Promise.resolve();
  }

  /** Rows of `level` (joined with the levels above) narrowed by SQL, page by page. */
  async *#rows(level: QueryRetrieveLevel, identifier: DataSet, upTo: number): AsyncGenerator<Row> {
    const { from, driver } = LEVEL_SQL[level];
    const where: string[] = [`${driver}.rowid > ?`];
    const params: (string | number)[] = [];
    for (const upper of ["PATIENT", "STUDY", "SERIES", "IMAGE"] as const) {
      if (levelDepth(upper) > upTo || levelDepth(upper) > levelDepth(level)) break;
      const values = exactValues(identifier[UNIQUE_KEYS[upper]]);
      // Longer lists are left to the matching, within SQLite's limit on bound parameters.
      if (values === undefined || values.length > MAX_SQL_VALUES) continue;
      where.push(`${KEY_COLUMNS[upper]} IN (${values.map(() => "?").join(", ")})`);
      params.push(...values);
    }
    const sql = `SELECT ${driver}.rowid AS rid, ${COLUMNS[level]} FROM ${from} WHERE ${
      where.join(" AND ")
    } ORDER BY ${driver}.rowid LIMIT ${this.#pageSize}`;
    // Not cached: the text varies with the number of values narrowed on.
    if (this.#closed) throw new Error("Store index is closed");
    this.#flush();
    const statement = this.#db.prepare(sql);
    let after = 0;
    while (true) {
      // A fresh page each time: no cursor stays open while the consumer awaits.
      const rows = statement.all(after, ...params) as Row[];
      for (const row of rows) yield row;
      if (rows.length < this.#pageSize) return;
      after = Number(rows[rows.length - 1].rid);
      await Promise.resolve();
    }
  }

  /** Adds the computed keys the identifier asks for at levels down to `level`. */
  #computed(candidate: DataSet, row: Row, identifier: DataSet, level: QueryRetrieveLevel): void {
    const depth = levelDepth(level);
    const wanted = (tag: string) => tag in identifier;
    const count = (sql: string, key: string | number | null) =>
      Number((this.#statement(sql).get(key) as Row).n);
    if (depth >= 0 && row.patient_id !== undefined) {
      const id = row.patient_id;
      if (wanted("00201200")) {
        candidate["00201200"] = {
          vr: "IS",
          Value: [count("SELECT COUNT(*) AS n FROM studies WHERE patient_id = ?", id)],
        };
      }
      if (wanted("00201202")) {
        candidate["00201202"] = {
          vr: "IS",
          Value: [
            count(
              "SELECT COUNT(*) AS n FROM series se JOIN studies st ON st.study_uid = se.study_uid " +
                "WHERE st.patient_id = ?",
              id,
            ),
          ],
        };
      }
      if (wanted("00201204")) {
        candidate["00201204"] = {
          vr: "IS",
          Value: [
            count(
              "SELECT COUNT(*) AS n FROM instances i JOIN studies st ON st.study_uid = i.study_uid " +
                "WHERE st.patient_id = ?",
              id,
            ),
          ],
        };
      }
    }
    if (depth >= 1 && row.study_uid !== undefined) {
      const uid = row.study_uid;
      if (wanted("00201206")) {
        candidate["00201206"] = {
          vr: "IS",
          Value: [count("SELECT COUNT(*) AS n FROM series WHERE study_uid = ?", uid)],
        };
      }
      if (wanted("00201208")) {
        candidate["00201208"] = {
          vr: "IS",
          Value: [count("SELECT COUNT(*) AS n FROM instances WHERE study_uid = ?", uid)],
        };
      }
      if (wanted("00080061")) {
        const rows = this.#statement(
          "SELECT DISTINCT modality AS v FROM series WHERE study_uid = ? AND modality <> '' " +
            "ORDER BY modality",
        ).all(uid) as Row[];
        candidate["00080061"] = valuesElement("CS", rows);
      }
      if (wanted("00080062")) {
        const rows = this.#statement(
          "SELECT DISTINCT sop_class_uid AS v FROM instances WHERE study_uid = ? " +
            "ORDER BY sop_class_uid",
        ).all(uid) as Row[];
        candidate["00080062"] = valuesElement("UI", rows);
      }
    }
    if (depth >= 2 && row.series_uid !== undefined && wanted("00201209")) {
      candidate["00201209"] = {
        vr: "IS",
        Value: [count("SELECT COUNT(*) AS n FROM instances WHERE series_uid = ?", row.series_uid)],
      };
    }
  }

  /** The merged attributes of a row, with the computed keys the identifier asks for. */
  #candidate(row: Row, identifier: DataSet, level: QueryRetrieveLevel): DataSet {
    const candidate: DataSet = {
      ...parse(row.pa),
      ...parse(row.sa),
      ...parse(row.sea),
      ...parse(row.ia),
    };
    this.#computed(candidate, row, identifier, level);
    return candidate;
  }

  /**
   * C-FIND (PS3.4 C.4.1.3.1): one data set per matching entity at the query's level, holding
   * every requested key (zero length when unknown or below the level), Query/Retrieve Level,
   * and the Specific Character Set of the values when the entity has one. Lazy: rows are read
   * a page at a time as the caller asks for matches.
   */
  async *find(query: IndexQuery): AsyncGenerator<DataSet> {
    const { level, unsupported } = checkIdentifier(query.identifier, query.model, {
      relational: true,
    });
    const matchKeys = keysDownTo(query.identifier, level, query.model, new Set(unsupported));
    const matching: MatchingOptions = {
      combinedDateTime: query.combinedDateTime ?? this.#combinedDateTime,
    };
    const depth = levelDepth(level);
    for await (const row of this.#rows(level, query.identifier, depth)) {
      const candidate = this.#candidate(row, query.identifier, level);
      if (!matchesIdentifier(matchKeys, candidate, matching)) continue;
      yield responseIdentifier(query.identifier, candidate, level, new Set(unsupported));
    }
  }

  /**
   * C-MOVE / C-GET: every instance below the entities that match the query at its level;
   * keys below the level are ignored.
   */
  async *instances(query: IndexQuery): AsyncGenerator<IndexedInstance> {
    const { level, unsupported } = checkIdentifier(query.identifier, query.model, {
      relational: true,
    });
    const matchKeys = keysDownTo(query.identifier, level, query.model, new Set(unsupported));
    const matching: MatchingOptions = {
      combinedDateTime: query.combinedDateTime ?? this.#combinedDateTime,
    };
    for await (const row of this.#rows("IMAGE", query.identifier, levelDepth(level))) {
      const candidate = this.#candidate(row, matchKeys, level);
      if (!matchesIdentifier(matchKeys, candidate, matching)) continue;
      yield instanceOf(row, "ia");
    }
  }

  /** Number of patients, studies, series and instances indexed. */
  counts(): Promise<{ patients: number; studies: number; series: number; instances: number }> {
    this.#flush();
    const n = (table: string) =>
      Number((this.#statement(`SELECT COUNT(*) AS n FROM ${table}`).get() as Row).n);
    return Promise.resolve({
      patients: n("patients"),
      studies: n("studies"),
      series: n("series"),
      instances: n("instances"),
    });
  }

  /** Writes the queued rows and closes the database. */
  close(): Promise<void> {
    if (!this.#closed) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      try {
        this.#flush();
      } catch (error) {
        this.#log(
          `index: ${this.#queued.size} instance(s) not written; the start check indexes ` +
            `their files: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}

function valuesElement(vr: "CS" | "UI", rows: Row[]): DataElement {
  const values = rows.map((r) => String(r.v));
  return values.length === 0 ? { vr } : { vr, Value: values };
}

/** An instance of a row; its data set is parsed from JSON when first read. */
function instanceOf(row: Row, column: string): IndexedInstance {
  const json = row[column];
  return lazyIndexedInstance({
    path: String(row.path),
    sopClassUid: String(row.sop_class_uid),
    sopInstanceUid: String(row.sop_instance_uid),
    transferSyntaxUid: String(row.transfer_syntax_uid),
    size: Number(row.size),
  }, () => parse(json));
}

/** The patient, study and series attributes of a data set as JSON (one pass over it). */
function levelRows(dataSet: DataSet): { patient: string; study: string; series: string } {
  const levels = instanceLevelAttributes(dataSet);
  return {
    patient: JSON.stringify(levels.PATIENT),
    study: JSON.stringify(levels.STUDY),
    series: JSON.stringify(levels.SERIES),
  };
}

/** The values of a unique key usable as an SQL `IN` list: no wildcard, not universal. */
function exactValues(element: DataElement | undefined): string[] | undefined {
  if (element === undefined || isUniversal(element)) return undefined;
  const values = (element.Value ?? []).map((v) => typeof v === "string" ? v.trim() : "");
  if (values.some((v) => v === "" || /[*?]/.test(v) || v === '""')) return undefined;
  return values;
}

/** The identifier's keys at or above `level`, less the unsupported ones. */
function keysDownTo(
  identifier: DataSet,
  level: QueryRetrieveLevel,
  model: IndexQuery["model"],
  unsupported: ReadonlySet<string>,
): DataSet {
  const depth = levelDepth(level);
  const out: DataSet = {};
  for (const [tag, element] of Object.entries(identifier)) {
    if (unsupported.has(tag)) continue;
    if (levelDepth(levelOfKey(tag, model)) > depth) continue;
    out[tag] = element;
  }
  return out;
}

/** Copies the items of a candidate's sequence, keeping the keys the key's item asks for. */
function sequenceResponse(key: DataElement, value: DataElement | undefined): DataElement {
  if (value === undefined) return { vr: "SQ", Value: [] };
  const keyItem = (key.Value ?? [])[0] as DataSet | null | undefined;
  if (!keyItem || Object.keys(keyItem).length === 0) return value;
  const items = ((value.Value ?? []) as (DataSet | null)[]).map((item) => {
    const out: DataSet = {};
    for (const [tag, element] of Object.entries(keyItem)) {
      const found = item?.[tag];
      out[tag] = element.vr === "SQ" ? sequenceResponse(element, found) : found ?? {
        vr: element.vr,
      };
    }
    return out;
  });
  return { vr: "SQ", Value: items };
}

/**
 * The response identifier (PS3.4 C.4.1.1.3.2): each requested key with the entity's value
 * (zero length when it has none or the key is unsupported), Query/Retrieve Level, and the
 * Specific Character Set of the values when known.
 */
function responseIdentifier(
  identifier: DataSet,
  candidate: DataSet,
  level: QueryRetrieveLevel,
  unsupported: ReadonlySet<string>,
): DataSet {
  const out: DataSet = {};
  for (const [tag, key] of Object.entries(identifier)) {
    if (tag.startsWith("0000") || tag.startsWith("0002") || tag.endsWith("0000")) continue;
    if (tag === SPECIFIC_CHARACTER_SET_TAG || tag === QUERY_RETRIEVE_LEVEL_TAG) continue;
    const value = unsupported.has(tag) ? undefined : candidate[tag];
    if (key.vr === "SQ") {
      out[tag] = unsupported.has(tag) ? { vr: "SQ" } : sequenceResponse(key, value);
    } else {
      out[tag] = value ?? { vr: key.vr };
    }
  }
  out[QUERY_RETRIEVE_LEVEL_TAG] = { vr: "CS", Value: [level] };
  const charset = candidate[SPECIFIC_CHARACTER_SET_TAG];
  if (charset !== undefined && (charset.Value ?? []).length > 0) {
    out[SPECIFIC_CHARACTER_SET_TAG] = charset;
  }
  return out;
}

/**
 * Opens (creating it and the folder when missing) the index of the store folder `dir`, in
 * `<dir>/.dimse-index.sqlite`.
 */
export function openSqliteIndex(dir: string, options: SqliteIndexOptions = {}): SqliteIndex {
  Deno.mkdirSync(dir, { recursive: true });
  return new SqliteIndex(`${dir}/${INDEX_FILE_NAME}`, options);
}
