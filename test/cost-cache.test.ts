import 'reflect-metadata';
import { parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCost } from '../src/graphql/cost';
import { buildGatewaySchema } from '../src/graphql/schema';

// The cost is remembered per document and variable shape: a request answered from that memory must be
// refused or let through exactly as a freshly parsed document (never seen, so analysed in full) is.

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGatewaySchema();
});

/** What checkCost says with every cost over the limit (the message tells the cost), or 'ok'. */
function outcome(document: ReturnType<typeof parse>, operationName: string | undefined, variables: Record<string, unknown> | undefined): string {
  try {
    checkCost(schema, document, operationName, variables, { maxCost: 0, exposeLimits: true });
    return 'ok';
  } catch (err) {
    const e = err as { message: string; extensions: { code: string } };
    return `${e.extensions.code}: ${e.message}`;
  }
}

const cases: [string, string | undefined, Record<string, unknown> | undefined][] = [
  ['query($n: Int) { hostScanJobs(first: $n) { nodes { id } } }', undefined, { n: 5 }],
  ['query($n: Int) { hostScanJobs(first: $n) { nodes { id } } }', undefined, { n: 100 }],
  ['query($n: Int) { hostScanJobs(first: $n) { nodes { id } } }', undefined, { n: null }],
  ['query($n: Int) { hostScanJobs(first: $n) { nodes { id } } }', undefined, {}],
  ['query($n: Int) { hostScanJobs(first: $n) { nodes { id } } }', undefined, { n: 'many' }],
  ['query($n: Int = 7) { ...F } fragment F on Query { hostScanJobs(first: $n) { nodes { id } } }', undefined, {}],
  ['query($n: Int = 7) { ...F } fragment F on Query { hostScanJobs(first: $n) { nodes { id } } }', undefined, { n: 9 }],
  ['query($s: Boolean!) { hostScanJobs { nodes { id } } hosts @skip(if: $s) { nodes { id name } } }', undefined, { s: true }],
  ['query($s: Boolean!) { hostScanJobs { nodes { id } } hosts @skip(if: $s) { nodes { id name } } }', undefined, { s: false }],
  ['query($s: Boolean!) { hostScanJobs { nodes { id } } hosts @skip(if: $s) { nodes { id name } } }', undefined, {}],
  ['query($id: ID!) { hostScanJob(id: $id) { id status } }', undefined, { id: 'a' }],
  ['query($id: ID!) { hostScanJob(id: $id) { id status } }', undefined, { id: 'b' }],
  ['query($id: ID!) { hostScanJob(id: $id) { id status } }', undefined, { id: { not: 'an id' } }],
  ['query($id: ID!) { hostScanJob(id: $id) { id status } }', undefined, undefined],
  // A nullable variable with a default in a non-null argument: explicit null fails only there.
  ['query($id: ID = "x") { hostScanJob(id: $id) { id } }', undefined, {}],
  ['query($id: ID = "x") { hostScanJob(id: $id) { id } }', undefined, { id: null }],
  ['query($id: ID = "x") { hostScanJob(id: $id) { id } }', undefined, { id: 'y' }],
  ['query A($n: Int) { hostScanJobs(first: $n) { nodes { id } } } query B { hosts { nodes { id } } }', undefined, { n: 3 }],
  ['query A($n: Int) { hostScanJobs(first: $n) { nodes { id } } } query B { hosts { nodes { id } } }', 'A', { n: 4 }],
  ['query A($n: Int) { hostScanJobs(first: $n) { nodes { id } } } query B { hosts { nodes { id } } }', 'B', { n: 4 }],
  ['query A($n: Int) { hostScanJobs(first: $n) { nodes { id } } } query B { hosts { nodes { id } } }', 'C', {}],
  ['{ hostScanJobs { nodes { id } } }', 'X', {}],
  ['{ __typename }', undefined, undefined],
];

describe('the cost cache', () => {
  it('answers every request as a fresh analysis does, in any order', () => {
    const shared = new Map<string, ReturnType<typeof parse>>();
    const seen: string[] = [];
    // Twice forwards and once backwards: every shape is met cold, warm and after its neighbours.
    for (const [query, name, variables] of [...cases, ...cases, ...[...cases].reverse()]) {
      if (!shared.has(query)) shared.set(query, parse(query));
      const cached = outcome(shared.get(query)!, name, variables);
      expect(cached, `${query} ${name} ${JSON.stringify(variables)}`).toBe(outcome(parse(query), name, variables));
      seen.push(cached);
    }
    // The cases do tell costs apart, and include refusals of each kind.
    expect(new Set(seen).size).toBeGreaterThan(10);
    expect(seen.some((s) => s.startsWith('BAD_USER_INPUT'))).toBe(true);
  });
});
