import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../audit';
import type { Principal } from '../auth';
import type { Job } from '../model';
import type { HostScanService } from '../service';
import { hostIdArray, hostScanHost, hostScanJob, hostScanJobRequests, hostScanJobResponses, hostScanJobStatus, problemDetails } from './schemas';
import { jobStatusView } from '../status-view';
import { toHostScanHost, toJobEntity } from './wire';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const principal = (request: FastifyRequest): Principal => request.principal!;
/** The principal with where the request came from, for operations that change something (the audit trail). */
export const caller = (request: FastifyRequest): Caller => ({ ...request.principal!, address: request.ip, traceId: String(request.id) });

// Job states are immutable objects shared through the job cache: serialize each at most once.
const entities = new WeakMap<Job, string>();
const entityJson = (job: Job, reply: FastifyReply): string => {
  let json = entities.get(job);
  if (json === undefined) entities.set(job, (json = String(reply.serialize(toJobEntity(job)))));
  return json;
};

/** The batch a schedule call made, beside the vendor's body (which stays as the vendor's). */
export const BATCH_HEADER = 'X-HostScan-Batch-Id';

const errors = { 400: problemDetails, 401: problemDetails, 403: problemDetails, 404: problemDetails } as const;
const idParam = (name: string) => ({ type: 'object', properties: { [name]: { type: 'string', format: 'uuid' } } }) as const;

/**
 * The vendor's HostScanJob routes under `/api/v1/HostScanJob`. Handlers only translate between the
 * wire and the service; authentication happens before them (see http.ts), roles in the service.
 * Literal segments (`ByHostIdMultiple`, `ByHostId`) win over `{id}` by the router's static-first rule.
 */
export async function hostScanJobRoutes(app: FastifyInstance, { service }: { service: HostScanService }) {
  app.post('/ByHostIdMultiple', {
    schema: {
      summary: 'Schedule a host scan for multiple hosts (Auth roles: Admin,App)',
      body: hostIdArray,
      response: {
        200: { type: 'array', items: hostScanJobStatus, description: `Success; the call's batch id is in the ${BATCH_HEADER} header.` },
        ...errors,
      },
    },
    handler: async (request, reply) => {
      const { batchId, jobs } = await service.scheduleBatch(caller(request), { hostIds: request.body });
      void reply.header(BATCH_HEADER, batchId);
      return jobs.map(jobStatusView);
    },
  });

  app.post('/', {
    schema: {
      summary: 'Create a host scan job (Auth roles: Admin; the vendor also lets App): hosts created or updated by name, then scanned in one job',
      body: hostScanJobRequests,
      response: { 200: { ...hostScanJobStatus, description: `Success; the call's batch id is in the ${BATCH_HEADER} header.` }, ...errors },
    },
    handler: async (request, reply) => {
      const { batchId, job } = await service.createJobFromRequests(caller(request), { requests: request.body });
      void reply.header(BATCH_HEADER, batchId);
      return jobStatusView(job);
    },
  });

  app.post('/ValidateImportedCSV', {
    schema: {
      summary: 'Validate host scan requests to generate host scan jobs (Auth roles: Admin,App): per-field errors; changes nothing',
      body: hostScanJobRequests,
      response: { 200: hostScanJobResponses, ...errors },
    },
    handler: async (request) => service.validateRequests(principal(request), { requests: request.body }),
  });

  app.get('/', {
    schema: {
      summary: 'Get status for all host scan jobs, newest first (Auth roles: Admin,App)',
      querystring: { type: 'object', properties: { skip: { type: 'integer' }, take: { type: 'integer' } } },
      response: { 200: { type: 'array', items: hostScanJobStatus }, ...errors },
    },
    handler: async (request) => {
      const query = request.query as { skip?: unknown; take?: unknown };
      const page = await service.listJobs(principal(request), { skip: query.skip, take: query.take });
      return page.items.map(jobStatusView);
    },
  });

  app.get('/ByHostId/:hostId', {
    schema: {
      summary: 'Attempt to find a scan job and its current status for the given host (Auth roles: Admin,App)',
      params: idParam('hostId'),
      response: { 200: hostScanJob, ...errors },
    },
    handler: async (request) => {
      const { hostId } = request.params as { hostId: string };
      return toJobEntity(await service.jobForHost(principal(request), { hostId }));
    },
  });

  app.post('/ByHostId/:hostId', {
    schema: {
      summary: 'Schedule a scan for host (Auth roles: Admin,App)',
      params: idParam('hostId'),
      response: { 200: hostScanJobStatus, ...errors },
    },
    handler: async (request) => {
      const { hostId } = request.params as { hostId: string };
      return jobStatusView(await service.scheduleHostScan(caller(request), { hostId }));
    },
  });

  app.get('/:hostScanJobId', {
    schema: {
      summary: 'Get status for a host scan job (Auth roles: Admin,App)',
      params: idParam('hostScanJobId'),
      response: { 200: hostScanJob, ...errors },
    },
    handler: async (request, reply) => {
      const { hostScanJobId } = request.params as { hostScanJobId: string };
      const json = entityJson(await service.getJob(principal(request), { id: hostScanJobId }), reply);
      return reply.type('application/json; charset=utf-8').send(json);
    },
  });

  app.delete('/:hostScanJobId', {
    schema: {
      summary: 'Cancel a host scan job (Auth roles: Admin,App)',
      params: idParam('hostScanJobId'),
      response: { 202: { type: 'null', description: 'Accepted' }, ...errors },
    },
    handler: async (request, reply) => {
      const { hostScanJobId } = request.params as { hostScanJobId: string };
      await service.cancelJob(caller(request), { id: hostScanJobId });
      return reply.code(202).send();
    },
  });

  app.get('/Host/:hostScanHostId/Start', {
    schema: {
      summary: 'Start a host scan job (Auth roles: Admin,App): a paused host scan is queued again',
      params: idParam('hostScanHostId'),
      response: { 200: hostScanHost, ...errors },
    },
    handler: async (request) => {
      const { hostScanHostId } = request.params as { hostScanHostId: string };
      const { job, scan } = await service.startHostScan(caller(request), { hostScanHostId });
      return toHostScanHost(job, scan);
    },
  });

  app.get('/Host/:hostScanHostId/Stop', {
    schema: {
      summary: 'Terminate a host scan job (Auth roles: Admin,App)',
      params: idParam('hostScanHostId'),
      querystring: { type: 'object', properties: { hostConnected: { type: 'boolean', description: 'True if the host was connected to when the scan terminated' } } },
      response: { 200: { type: 'null', description: 'Success' }, ...errors },
    },
    handler: async (request, reply) => {
      const { hostScanHostId } = request.params as { hostScanHostId: string };
      const { hostConnected } = request.query as { hostConnected?: unknown };
      const flag = hostConnected === 'true' ? true : hostConnected === 'false' ? false : hostConnected;
      await service.stopHostScan(caller(request), { hostScanHostId, hostConnected: flag });
      return reply.code(200).send();
    },
  });

  app.post('/:managedResourceId', {
    schema: {
      summary: 'Scan a host now (Auth roles: Admin,App): the host with the managed resource\'s id, else 404',
      params: idParam('managedResourceId'),
      response: { 200: hostScanJobStatus, ...errors },
    },
    handler: async (request) => {
      const { managedResourceId } = request.params as { managedResourceId: string };
      return jobStatusView(await service.scanManagedResource(caller(request), { managedResourceId }));
    },
  });
}
