// Entry point of the Wasm codec: every export of the module comes from one of these files.
// Exports are prefixed by their file (pdu_, cmd_, pdata_) so that the files never collide.
export * from "./pdu";
export * from "./command";
export * from "./pdata";
