import fc from 'fast-check';
import { HOSTS } from './hosts';

// A grammar for GraphQL documents over this gateway's schema: mostly well-formed, often wrong in the ways
// callers get it wrong (unknown fields, wrong argument types, missing arguments, odd variables).

const str = fc.string({ maxLength: 40 }).map((s) => JSON.stringify(s));
const scalar = fc.oneof(
  str,
  fc.integer({ min: -5, max: 2000 }).map(String),
  fc.constantFrom('true', 'null', 'Queued', 'Cancelled', '1.5'),
  fc.uuid().map((u) => JSON.stringify(u)),
  fc.constantFrom(HOSTS.alpha.id, HOSTS.beta.id).map((u) => JSON.stringify(u)),
);
const value = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }).map((a) => `[${a.join(', ')}]`) },
  { weight: 1, arbitrary: fc.constantFrom('$ids', '$id', '$first', '$x') },
  { weight: 1, arbitrary: fc.record({ name: str, ipAddress: str }).map((o) => `{ name: ${o.name}, ipAddress: ${o.ipAddress} }`) },
);

const args = (names: readonly string[]) =>
  fc.subarray([...names]).chain((picked) =>
    picked.length === 0
      ? fc.constant('')
      : fc.tuple(...picked.map((n) => value.map((v) => `${n}: ${v}`))).map((parts) => `(${parts.join(', ')})`),
  );

const pick = (fields: string[]) => fc.subarray(fields, { minLength: 1 }).map((f) => `{ ${f.join(' ')} }`);
const hostStatus = pick(['name', 'status', 'os', 'version', 'failureReason', 'hostScanHostId', 'bogus']);
const jobStatus = hostStatus.chain((h) => pick(['id', 'status', 'statusDescription', '__typename', `hostScanHostStatus ${h}`, 'nope']));
const job = jobStatus.chain((j) => pick(['createdBy', 'revision', 'createdDateTimeUtc', j.slice(2, -2) || 'id']));
const host = pick(['id', 'name', 'ipAddress', 'os', 'lastScanTimeUtc', 'missing']);

const field = (name: string, argNames: readonly string[], selection: fc.Arbitrary<string> | null) =>
  fc.tuple(fc.option(fc.constantFrom('a', 'b', 'x1'), { nil: null }), args(argNames), selection ?? fc.constant(''), fc.boolean()).map(
    ([alias, a, sel, directive]) => `${alias ? `${alias}: ` : ''}${name}${a}${directive ? ' @include(if: true)' : ''} ${sel}`,
  );

const queryFields = fc.oneof(
  field('hostScanJob', ['id'], job),
  job.chain((j) => field('hostScanJobs', ['first', 'after', 'status'], fc.constant(`{ nodes ${j} pageInfo { hasNextPage endCursor } }`))),
  field('hostScanJobForHost', ['hostId'], job),
  host.chain((h) => field('hosts', ['first', 'after', 'search'], fc.constant(`{ nodes ${h} }`))),
  field('host', ['id'], host),
  fc.constant('__typename'),
  fc.constant('__schema { types { name } }'),
);
const mutationFields = fc.oneof(
  field('scheduleHostScans', ['hostIds'], jobStatus),
  field('cancelHostScanJob', ['id'], jobStatus),
  field('upsertHosts', ['hosts'], host),
  field('removeHost', ['id'], null),
);
const subscriptionFields = field('hostScanJobStatus', ['jobIds'], jobStatus);

const variableDefinitions = fc.constantFrom('', '($ids: [ID!])', '($id: ID!)', '($first: Int, $x: String)', '($ids: [ID!]!, $id: ID)');

/** A GraphQL document: an operation over this schema, sometimes with a fragment, often subtly wrong. */
export function graphqlDocument(): fc.Arbitrary<string> {
  const operation = fc.oneof(
    fc.tuple(fc.constantFrom('query', ''), variableDefinitions, fc.array(queryFields, { minLength: 1, maxLength: 3 })),
    fc.tuple(fc.constant('mutation'), variableDefinitions, fc.array(mutationFields, { minLength: 1, maxLength: 3 })),
    fc.tuple(fc.constant('subscription'), variableDefinitions, fc.array(subscriptionFields, { minLength: 1, maxLength: 2 })),
  );
  return fc.tuple(operation, fc.boolean()).map(([[kind, vars, fields], withFragment]) => {
    const head = kind ? `${kind} Op${vars}` : '';
    const fragment = withFragment ? '\nfragment F on HostScanJob { id status }' : '';
    return `${head} { ${fields.join(' ')} }${fragment}`;
  });
}
