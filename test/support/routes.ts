/**
 * Every HTTP route Nest registers, read from the controllers' metadata: apps/<service>/src/*.controller.ts, and
 * the shared controllers every service mounts (observability, API docs). A new route is found without a list.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { SCOPE_METADATA } from '@tidemark/auth';
import type { ServiceName } from './stack';

export interface Route {
  service: ServiceName | 'every';
  method: string;
  path: string;
  scope: string | undefined;
  where: string;
}

const ROOT = path.resolve(__dirname, '..', '..');

/** The controllers every service mounts. */
export const SHARED_CONTROLLER_FILES = ['libs/observability/src/observability.module.ts', 'libs/runtime/src/api-docs.module.ts'];

export function routes(): Route[] {
  const files: { file: string; service: ServiceName | 'every' }[] = [];
  for (const s of fs.readdirSync(path.join(ROOT, 'apps'))) {
    const dir = path.join(ROOT, 'apps', s, 'src');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.controller.ts')) files.push({ file: path.join(dir, f), service: s as ServiceName });
  }
  for (const f of SHARED_CONTROLLER_FILES) files.push({ file: path.join(ROOT, f), service: 'every' });
  const out: Route[] = [];
  for (const { file, service } of files) {
    const mod = require(file) as Record<string, unknown>;
    for (const exported of Object.values(mod)) {
      if (typeof exported !== 'function') continue;
      const base = Reflect.getMetadata(PATH_METADATA, exported) as string | undefined;
      if (base === undefined) continue; // not a controller
      const proto = (exported as { prototype: Record<string, unknown> }).prototype;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue; // not a route (a NATS pattern or a helper)
        const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | string[];
        const scope = (Reflect.getMetadata(SCOPE_METADATA, handler) ?? Reflect.getMetadata(SCOPE_METADATA, exported)) as string | undefined;
        for (const p of Array.isArray(sub) ? sub : [sub]) {
          const full = `/${[base, p].filter((x) => x && x !== '/').join('/')}`.replace(/\/+/g, '/');
          out.push({ service, method: RequestMethod[method], path: full, scope, where: `${path.relative(ROOT, file)} ${name}` });
        }
      }
    }
  }
  return out;
}
