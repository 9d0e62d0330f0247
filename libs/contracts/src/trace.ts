/**
 * W3C trace context (docs/observability.md "Request ids and trace context"): a `traceparent` sent with an
 * ingest request is kept on the raw frames holding its events (one NATS header a frame, nothing per event).
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The header when well-formed (version 00 exactly; a later version's first four fields), else undefined. */
export function acceptTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  return `${version}-${traceId}-${parentId}-${flags}`;
}
