// W3C Trace Context for k6 requests, generated in the script (the k6 jslib that does this is fetched
// from the internet at run time, which a workshop room without Wi-Fi cannot do).
//
//   traceparent: 00-<trace-id: 16 random bytes, hex>-<parent-id: 8 random bytes, hex>-01
//
// version 00, flags 01 (sampled): the services' parent-based sampler then records the request, and
// order's server span carries this very trace id, so a k6 request can be looked up in Tempo.

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** n random bytes: WebCrypto's getRandomValues where the runtime has it, Math.random otherwise. */
function randomBytes(n) {
  const bytes = new Uint8Array(n);
  const webCrypto = globalThis.crypto;
  if (webCrypto && typeof webCrypto.getRandomValues === 'function') {
    webCrypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < n; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  return bytes;
}

/** n random bytes as lowercase hex, never all zero (an all-zero id is invalid in W3C Trace Context). */
function randomHex(n) {
  for (;;) {
    const bytes = randomBytes(n);
    if (bytes.some((byte) => byte !== 0)) {
      let hex = '';
      for (const byte of bytes) hex += HEX[byte];
      return hex;
    }
  }
}

/**
 * A fresh trace context: { traceId, parentId, header }. sampled=false sets flags 00, which a
 * parent-based sampler obeys by recording nothing (the workshop's sampling exercise shows it).
 */
export function newTraceparent(sampled = true) {
  const traceId = randomHex(16);
  const parentId = randomHex(8);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}` };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a traceparent header; undefined when it is not a valid version-00 header. */
export function parseTraceparent(header) {
  const match = TRACEPARENT.exec(header);
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  return { traceId: match[1], parentId: match[2], flags: match[3] };
}
