import 'reflect-metadata';
import { execute, getOperationAST, GraphQLError, parse, validate, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/auth';
import { formatError } from '../src/graphql/errors';
import { jitGateway } from '../src/graphql/jit';
import { buildGatewaySchema, type GraphQLServices } from '../src/graphql/schema';
import { startTestGateway, type TestGateway } from './support/gateway';
import { ADMIN } from './support/principals';

// graphql-jit runs HTTP operations: each answer, errors and their causes included, must be the one
// graphql-js gives for the same document, variables and caller.

const APP: Principal = { ...ADMIN, subject: 'app', roles: new Set(['App']) };
const NOBODY: Principal = { ...ADMIN, subject: 'nobody', roles: new Set() };
const STATUS = 'id status statusDescription revision hostScanHostStatus { hostScanHostId hostId name dnsHostName os ipAddress version status statusDescription failureReason hostConnected attempts startedDateTimeUtc finishedDateTimeUtc }';

let t: TestGateway;
let schema: GraphQLSchema;
let jobId: string;
let run: NonNullable<Awaited<ReturnType<ReturnType<typeof jitGateway>['load']>>['executor']>;

beforeAll(async () => {
  t = await startTestGateway({}, { runner: false });
  const hosts = await t.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: 'jit-a', ipAddress: '127.0.0.1' }, { name: 'jit-b', dnsHostName: 'b.example.test' }] });
  jobId = (await t.gateway.service.scheduleBatch(ADMIN, { hostIds: hosts.map((h) => h.id) })).jobs[0]!.id;
  // Only the job and host resolvers are asked here; the other services are never called.
  schema = await buildGatewaySchema({ scans: t.gateway.service, accounts: t.gateway.accounts } as unknown as GraphQLServices);
  // Compiled from the first run, so that every case is answered by graphql-jit.
  run = (await jitGateway(schema, 1).load({ apollo: {} })).executor!;
});
afterAll(() => t?.stop());

/** An answer as Apollo sends it (errors formatted the gateway's way), plus each error's cause. */
function sent(result: ExecutionResult) {
  return {
    data: result.data,
    errors: result.errors?.map((e) => ({
      formatted: formatError({ ...e.toJSON(), extensions: { ...e.extensions, code: e.extensions.code ?? 'INTERNAL_SERVER_ERROR' } }, e, () => {}),
      json: e.toJSON(),
      isGraphQLError: e instanceof GraphQLError,
      cause: e.originalError && { name: e.originalError.name, message: e.originalError.message },
    })),
  };
}

async function both(principal: Principal, query: string, variables?: Record<string, unknown>, operationName?: string) {
  const document = parse(query);
  // Only valid documents reach execution.
  expect(validate(schema, document).map((e) => e.message)).toEqual([]);
  const contextValue = { principal, ip: '127.0.0.1', service: t.gateway.service, inventory: t.gateway.inventory };
  const expected = await execute({ schema, document, variableValues: variables, operationName, contextValue });
  const operation = getOperationAST(document, operationName);
  const actual = await run({ document, operation, operationName: operationName ?? null, request: { query, variables, operationName }, context: contextValue } as never);
  return { expected: sent(expected), actual: sent(actual) };
}

const cases: [string, Principal, string, Record<string, unknown>?, string?][] = [
  ['a job with every field', APP, `query($id: ID!) { hostScanJob(id: $id) { ${STATUS} createdBy createdByUserName createdFromAddress nodeId createdDateTimeUtc modifiedDateTimeUtc scheduleId batchId __typename } }`],
  ['an unknown job (NOT_FOUND, null)', APP, 'query($id: ID!) { hostScanJob(id: $id) { id } }', { id: '00000000-0000-4000-8000-000000000000' }],
  ['a malformed id (BAD_INPUT)', APP, '{ hostScanJob(id: "nope") { id } }'],
  ['no role (FORBIDDEN)', NOBODY, 'query($id: ID!) { hostScanJob(id: $id) { id } }'],
  ['a page with aliases, fragments and directives', ADMIN, `query($skip: Boolean!, $n: Int) {
      page: hostScanJobs(first: $n) { edges { cursor node { ...S } } pageInfo { hasNextPage endCursor } nodes { id @skip(if: $skip) status @include(if: $skip) } }
      again: hostScanJobs(first: 1) { nodes { ... on HostScanJob { id } } } }
    fragment S on HostScanJob { ${STATUS} }`, { skip: true, n: 5 }],
  ['skip and include on fragment spreads, inline fragments and overlapping fields', ADMIN, `query($id: ID!, $yes: Boolean!, $no: Boolean!) {
      hostScanJob(id: $id) {
        ...A @skip(if: $yes) ...B @include(if: $yes) ... on HostScanJob @include(if: $no) { createdBy }
        hostScanHostStatus @skip(if: $no) { name } hostScanHostStatus { name @skip(if: $yes) os }
        id @include(if: $no) id
      } }
    fragment A on HostScanJob { status hostScanHostStatus { hostId } }
    fragment B on HostScanJob { statusDescription hostScanHostStatus { hostScanHostId ... on HostScanHostStatus @skip(if: $no) { ipAddress } } }`, { yes: true, no: false }],
  // Variables reach graphql-jit after graphql-js has coerced them once (the cost check); it coerces them again.
  ['an ID sent as a number', APP, 'query($id: ID!) { hostScanJob(id: $id) { id } }', { id: 12345 }],
  ['an enum variable', APP, 'query($s: ActionStatus) { hostScanJobs(status: $s) { nodes { id status } } }', { s: 'Queued' }],
  ['a list variable sent as one value', NOBODY, 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: 'one' }],
  ['an input object variable', APP, 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }', { h: { name: 'x', sshPort: 22, acceptKeyOnFirstContact: false, sshTrust: 'ErrorOnThumbprintMismatch' } }],
  ['an out-of-range page size', APP, '{ hostScanJobs(first: 0) { nodes { id } } }'],
  ['a cursor that is not one', APP, '{ hostScanJobs(after: "garbage") { nodes { id } } }'],
  ['hosts with every field', ADMIN, '{ hosts(first: 5) { nodes { id name dnsHostName ipAddress os version sshPort winRmPort lastScanTimeUtc lastScanStartTimeUtc lastScanStatus credentialName credentialId sshTrust acceptKeyOnFirstContact sshHostKeyFingerprint sshHostKeyAlgorithm sshHostKeyPresented sshHostKeyTrust createdDateTimeUtc modifiedDateTimeUtc } pageInfo { hasNextPage } } }'],
  ['errors in one field, data in another', APP, 'query($id: ID!) { ok: hostScanJob(id: $id) { id } bad: hostScanJob(id: "x") { id } }'],
  ['introspection', ADMIN, '{ __schema { queryType { name } } __type(name: "HostScanJob") { name fields { name type { name kind ofType { name } } } } }'],
  ['a mutation refused (Admin only)', APP, 'mutation { removeHost(id: "00000000-0000-4000-8000-000000000000") }'],
  ['a mutation with field errors', ADMIN, 'mutation { upsertHosts(hosts: [{ name: "" }]) { id } }'],
  ['one of two named operations', APP, 'query A($id: ID!) { hostScanJob(id: $id) { id } } query B { hostScanJobs(first: 1) { nodes { id } } }', undefined, 'B'],
  ['an operation name that is not in the document', APP, 'query A { __typename }', undefined, 'C'],
  ['two operations and no name', APP, 'query A { __typename } query B { __typename }'],
];

describe('graphql-jit against graphql-js', () => {
  for (const [what, principal, query, variables, operationName] of cases) {
    it(what, async () => {
      const { expected, actual } = await both(principal, query, { id: jobId, ...variables }, operationName);
      expect(actual).toEqual(expected);
    });
  }

  it('the cases cover data, nulls and errors of several codes', async () => {
    const codes = new Set<unknown>();
    for (const [, principal, query, variables, operationName] of cases) {
      for (const e of (await both(principal, query, { id: jobId, ...variables }, operationName)).actual.errors ?? []) codes.add(e.formatted.extensions?.code);
    }
    expect([...codes].sort()).toEqual(expect.arrayContaining(['BAD_INPUT', 'FORBIDDEN', 'NOT_FOUND']));
  });
});
