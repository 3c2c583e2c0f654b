export function pdata_placeholder(): i32 { return 0; }
