import type { Caller } from '../audit';
import type { InventoryService } from '../inventory-service';
import type { HostScanService } from '../service';

/** What every resolver gets: the caller, proven by a token before the operation runs. */
export interface GraphQLContext {
  /** With the client's address and the request's trace id, for the audit trail. */
  principal: Caller;
  /** The client address (createdFromAddress of jobs it schedules). */
  ip: string | null;
  /** For subscription `subscribe` functions, which type-graphql calls without a resolver instance. */
  service: HostScanService;
  inventory: InventoryService;
}
