/**
 * An index entry whose data set is decoded only when first read: rows read back from the index
 * (their attributes kept as JSON) and instances just stored (their head kept as bytes) are
 * often passed on without their attributes being looked at.
 *
 * @module
 */
import type { DataSet } from "../dataset/dataset.ts";
import type { IndexedInstance } from "./instance_index.ts";

/** `fields` with a `dataSet` that `read` gives on first access (and that can be replaced). */
export function lazyIndexedInstance(
  fields: Omit<IndexedInstance, "dataSet">,
  read: () => DataSet,
): IndexedInstance {
  let dataSet: DataSet | undefined;
  return {
    ...fields,
    get dataSet(): DataSet {
      return dataSet ??= read();
    },
    set dataSet(value: DataSet) {
      dataSet = value;
    },
  };
}
