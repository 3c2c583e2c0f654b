export function pdu_placeholder(): i32 { return 0; }
