import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InventoryService } from '../inventory-service';
import { hostScanGroup, hostScanHost, hostScanUser } from './inventory-schemas';
import { toScanGroups, toScanHost, toScanUsers } from './inventory-wire';
import { problemDetails } from './schemas';

const errors = { 400: problemDetails, 401: problemDetails, 403: problemDetails, 404: problemDetails } as const;
const param = (name: string, format?: 'uuid') => ({ type: 'object', properties: { [name]: { type: 'string', ...(format ? { format } : {}) } } }) as const;
const paging = { type: 'object', properties: { skip: { type: 'integer' }, take: { type: 'integer' } } } as const;

const principal = (request: FastifyRequest) => request.principal!;
const params = (request: FastifyRequest) => request.params as Record<string, string>;

/**
 * The vendor's inventory routes under `/api/v1/HostScanJob`: what credentialed scans found, in its
 * HostScanHost/HostScanUser/HostScanGroup shapes. Handlers only translate; roles and input checks are
 * InventoryService's. Literal segments (`Host`, `User`, `SID`, `Group`) win over `{hostScanJobId}`.
 */
export async function inventoryRoutes(app: FastifyInstance, { inventory }: { inventory: InventoryService }) {
  app.get('/Host', {
    schema: {
      summary: 'Get scanned hosts, by name, with their accounts and groups (Auth roles: Admin,App)',
      querystring: paging,
      response: { 200: { type: 'array', items: hostScanHost }, ...errors },
    },
    handler: async (request) => (await inventory.scannedHosts(principal(request), request.query as object)).map(toScanHost),
  });

  app.get('/Host/:hostId', {
    schema: {
      summary: "Get a scanned host by its host id (or a HostScanHost id), with its accounts, groups, services and tasks (Auth roles: Admin,App)",
      params: param('hostId', 'uuid'),
      response: { 200: hostScanHost, ...errors },
    },
    handler: async (request) => toScanHost(await inventory.scannedHost(principal(request), { hostId: params(request).hostId })),
  });

  app.get('/User', {
    schema: {
      summary: 'Get scanned users of every host, by host and name (Auth roles: Admin,App)',
      querystring: paging,
      response: { 200: { type: 'array', items: hostScanUser }, ...errors },
    },
    handler: async (request) => toScanUsers(await inventory.users(principal(request), request.query as object)),
  });

  app.get('/User/SID/:sid', {
    schema: {
      summary: 'Get a scanned user by SID; Unix accounts have none (Auth roles: Admin,App)',
      params: param('sid'),
      response: { 200: hostScanUser, ...errors },
    },
    handler: async (request) => inventory.userBySid(principal(request), { sid: params(request).sid }),
  });

  app.get('/User/:userId', {
    schema: {
      summary: 'Get a scanned user (Auth roles: Admin,App)',
      params: param('userId', 'uuid'),
      response: { 200: hostScanUser, ...errors },
    },
    handler: async (request) => toScanUsers(await inventory.user(principal(request), { userId: params(request).userId }))[0],
  });

  app.get('/Group/:groupId', {
    schema: {
      summary: 'Get a scanned group with its members (Auth roles: Admin,App)',
      params: param('groupId', 'uuid'),
      response: { 200: hostScanGroup, ...errors },
    },
    handler: async (request) => toScanGroups(await inventory.group(principal(request), { groupId: params(request).groupId }))[0],
  });
}
