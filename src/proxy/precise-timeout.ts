// Timeouts kept to the millisecond where undici's would not be. undici checks connect, header and body
// timeouts on a coarse clock (a tick about every half second), which costs nothing per request and is
// right for the usual seconds-long ones, but lets a 200ms timeout fire after up to a second. Below this,
// the gateway keeps its own timer as well (one per connection attempt or per try).
export const PRECISE_TIMEOUT_MS = 5000;
