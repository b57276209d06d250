/** The credentialed inventory's public surface: what the runner, the store and the edges import. */
export { collectInventory, DEFAULT_COLLECT_LIMITS, type CollectLimits, type CollectOutcome, type CollectTarget } from './collect';
export {
  ServiceStartType, SshTrustAction, UserPrivilege,
  type HostGroup, type HostScheduledTask, type HostService, type HostUser, type InventorySnapshot, type ScheduledTaskSource,
} from './model';
export { probeHostKey, readHostKey } from './probe-host-key';
export { fingerprintOf, type HostKey, type HostKeyPolicy, type SessionFailure, type SessionFailureReason, type SshCredential } from './ssh-session';
