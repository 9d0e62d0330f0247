/** HTTP calls to the other services, each answering a `Fetched` value instead of throwing. */
import type { Fetched } from './snapshot';

function reason(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (err.cause?.code === 'ECONNREFUSED') return 'not answering (ECONNREFUSED)';
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

async function get(url: string, timeoutMs: number): Promise<Fetched<Response>> {
  try {
    return { ok: true, value: await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }) };
  } catch (e) {
    return { ok: false, error: reason(e, timeoutMs) };
  }
}

/** A 2xx JSON body, or the reason (no answer, the status and the service's error message, bad JSON). */
export async function fetchJson<T>(url: string, timeoutMs: number): Promise<Fetched<T>> {
  const r = await get(url, timeoutMs);
  if (!r.ok) return r;
  let text: string;
  try {
    text = await r.value.text();
  } catch (e) {
    return { ok: false, error: reason(e, timeoutMs) };
  }
  if (!r.value.ok) {
    let detail = text.slice(0, 200);
    try {
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      detail = String(body.error ?? body.message ?? detail);
    } catch {
      // not JSON: keep the text
    }
    return { ok: false, error: `HTTP ${r.value.status}${detail ? `: ${detail}` : ''}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch {
    return { ok: false, error: 'the answer is not JSON' };
  }
}

/** A 2xx text body (e.g. Prometheus metrics), or the reason. */
export async function fetchText(url: string, timeoutMs: number): Promise<Fetched<string>> {
  const r = await get(url, timeoutMs);
  if (!r.ok) return r;
  try {
    const text = await r.value.text();
    return r.value.ok ? { ok: true, value: text } : { ok: false, error: `HTTP ${r.value.status}` };
  } catch (e) {
    return { ok: false, error: reason(e, timeoutMs) };
  }
}

/** Just the status code (for /health/ready, where 503 is an answer too). */
export async function fetchStatus(url: string, timeoutMs: number): Promise<Fetched<number>> {
  const r = await get(url, timeoutMs);
  if (!r.ok) return r;
  await r.value.arrayBuffer().catch(() => undefined);
  return { ok: true, value: r.value.status };
}
