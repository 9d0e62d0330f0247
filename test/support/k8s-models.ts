/**
 * Offline validation of rendered Kubernetes objects (docs/operations.md "Kubernetes"):
 * - the schemas of `kubernetes-models` and `@kubernetes-models/prometheus-operator` (types, formats, required
 *   fields: what the API server checks), and
 * - unknown fields, which those schemas let through but `kubectl apply` refuses (strict field validation): each
 *   object is walked along the TypeScript declarations the same packages ship.
 */
import * as path from 'node:path';
import ts from 'typescript';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The module of a model: core `v1/Kind`, `group/version/Kind`, or the prometheus-operator CRDs. */
export function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

/** Schema errors of one object (empty when it is valid); throws for a kind no model knows. */
export function schemaErrors(obj: K8sObject): string[] {
  const mod = require(modelModule(obj.apiVersion, obj.kind)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

let program: { checker: ts.TypeChecker; files: Map<string, ts.SourceFile> } | undefined;

function declarationFile(obj: K8sObject): string {
  return require.resolve(modelModule(obj.apiVersion, obj.kind)).replace(/\.js$/, '.d.ts');
}

/** Paths of fields that the object's kind does not declare (e.g. a misspelt `livenesProbe`). */
export function unknownFields(objects: K8sObject[]): string[] {
  if (!program) {
    const roots = [...new Set(objects.map(declarationFile))];
    const p = ts.createProgram(roots, { noEmit: true, strict: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 });
    program = { checker: p.getTypeChecker(), files: new Map(roots.map((r) => [r, p.getSourceFile(r)!])) };
  }
  const { checker, files } = program;
  const found: string[] = [];
  for (const obj of objects) {
    const file = files.get(declarationFile(obj)) ?? (() => {
      throw new Error(`declarations of ${obj.kind} were not loaded`);
    })();
    const iface = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === `I${obj.kind}`);
    if (!iface) throw new Error(`no interface I${obj.kind} in ${path.basename(file.fileName)}`);
    walk(checker, obj, checker.getTypeAtLocation(iface), `${obj.kind}/${obj.metadata.name}`, found);
  }
  return found;
}

function members(type: ts.Type): ts.Type[] {
  return type.isUnion() ? type.types : [type];
}

function walk(checker: ts.TypeChecker, value: unknown, type: ts.Type, at: string, found: string[]): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const arrays = members(type).filter((t) => checker.isArrayType(t));
    if (arrays.length === 0) return;
    const element = checker.getTypeArguments(arrays[0] as ts.TypeReference)[0];
    value.forEach((v, i) => walk(checker, v, element, `${at}[${i}]`, found));
    return;
  }
  const objects = members(type).filter((t) => (t.flags & ts.TypeFlags.Object) !== 0 && !checker.isArrayType(t));
  if (objects.length === 0) return; // a primitive or `any` in the declarations: nothing to check against
  if (objects.some((t) => checker.getIndexInfosOfType(t).length > 0)) return; // a map (labels, data, …)
  for (const [key, v] of Object.entries(value)) {
    const prop = objects.map((t) => t.getProperty(key)).find((p) => p !== undefined);
    if (!prop) {
      found.push(`${at}.${key}`);
      continue;
    }
    const decl = prop.valueDeclaration ?? prop.declarations?.[0];
    if (decl) walk(checker, v, checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(prop, decl)), `${at}.${key}`, found);
  }
}
