import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Msg, Subscription } from '@nats-io/nats-core';
import { rpc } from '@tidemark/contracts';
import { JetStreamConnection } from '@tidemark/jetstream';
import { API_KEY_RING } from '@tidemark/config';
import type { ApiKeyRing, Scope } from '@tidemark/auth';
import { rpcDenied, rpcProblem } from '@tidemark/runtime';
import { AlertingError, problemOf } from './alerting.errors';
import { AlertingService } from './alerting.service';

/** Subject of the rule API over NATS (request-reply). */
export const RULES_SUBJECT = 'tidemark.alerts.rules';

/**
 * NATS request-reply (queue group `alerting`):
 * - `tidemark.alerts.list` `{state?}` → `{alerts}` (or a problem);
 * - `tidemark.alerts.rules` `{op: "list"|"get"|"create"|"replace"|"delete", id?, rule?}` →
 *   `{status: 200|201|204, body?}` or a problem `{type, title, status: 400|404|409|503, detail, error, errors?}`
 *   (docs/platform.md "Errors": the body HTTP would answer).
 */
@Injectable()
export class AlertsRpc implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AlertsRpc.name);
  private subs: Subscription[] = [];

  constructor(
    private readonly alerting: AlertingService,
    private readonly connection: JetStreamConnection,
    @Inject(API_KEY_RING) private readonly ring: ApiKeyRing,
  ) {}

  onApplicationBootstrap(): void {
    if (this.subs.length > 0) return;
    const nc = this.connection.nc;
    const on = (subject: string, scope: Scope, answer: (data: unknown) => Promise<unknown>) =>
      nc.subscribe(subject, {
        queue: 'alerting',
        callback: (err, msg) => (err ? this.logger.error(err) : void this.reply(msg, scope, answer)),
      });
    this.subs = [on(rpc.alertsList, 'read', (d) => this.list(d)), on(RULES_SUBJECT, 'admin', (d) => this.rules(d))];
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.drain().catch(() => undefined)));
  }

  async list(req: unknown): Promise<unknown> {
    try {
      const state = (req as { state?: unknown } | null)?.state;
      if (state !== undefined && state !== null && typeof state !== 'string') return rpcProblem(400, 'state must be a string', { errors: [{ field: 'state', reason: 'must be a string' }] });
      return { alerts: this.alerting.listAlerts(state === undefined || state === null ? undefined : String(state)) };
    } catch (e) {
      if (e instanceof AlertingError) return problemOf(e);
      throw e;
    }
  }

  async rules(req: unknown): Promise<unknown> {
    const r = (req ?? {}) as { op?: string; id?: string; rule?: unknown };
    // Checked before any use as text: a deeply nested array turned into text overflows the stack (a 500).
    if (typeof r.op !== 'string') return rpcProblem(400, 'op must be list, get, create, replace or delete', { errors: [{ field: 'op', reason: 'must be list, get, create, replace or delete' }] });
    if (r.id !== undefined && typeof r.id !== 'string') return rpcProblem(400, 'id must be a string', { errors: [{ field: 'id', reason: 'must be a string' }] });
    try {
      switch (r.op) {
        case 'list':
          return { status: 200, body: { rules: this.alerting.listRules() } };
        case 'get':
          return { status: 200, body: this.alerting.getRule(String(r.id)) };
        case 'create':
          return { status: 201, body: await this.alerting.createRule(r.rule) };
        case 'replace': {
          const id = r.id ?? (r.rule as { id?: unknown } | undefined)?.id;
          if (typeof id !== 'string') return rpcProblem(400, 'id is required', { errors: [{ field: 'id', reason: 'is required' }] });
          const { rule, created } = await this.alerting.replaceRule(id, r.rule);
          return { status: created ? 201 : 200, body: rule };
        }
        case 'delete':
          await this.alerting.deleteRule(String(r.id));
          return { status: 204 };
        default:
          return rpcProblem(400, `unknown op "${r.op}": list, get, create, replace or delete`, { errors: [{ field: 'op', reason: 'must be list, get, create, replace or delete' }] });
      }
    } catch (e) {
      if (e instanceof AlertingError) return problemOf(e);
      throw e;
    }
  }

  private async reply(msg: Msg, scope: Scope, answer: (data: unknown) => Promise<unknown>): Promise<void> {
    const out = rpcDenied(this.ring, msg.headers, scope) ?? (await this.answerJson(msg.data, answer));
    if (msg.reply) msg.respond(Buffer.from(JSON.stringify(out)));
  }

  private async answerJson(raw: Uint8Array, answer: (data: unknown) => Promise<unknown>): Promise<unknown> {
    try {
      let data: unknown = {};
      if (raw.length > 0) data = JSON.parse(Buffer.from(raw).toString('utf8'));
      return await answer(data);
    } catch (e) {
      if (e instanceof SyntaxError) return rpcProblem(400, `the request must be JSON: ${e.message}`);
      this.logger.error(e);
      return rpcProblem(500, 'internal error');
    }
  }
}
