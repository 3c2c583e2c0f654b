export function command_placeholder(): i32 { return 0; }
