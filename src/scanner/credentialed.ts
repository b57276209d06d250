import { collectInventory, readHostKey, SshTrustAction, type CollectLimits, type CollectOutcome, type SshCredential } from '../inventory';
import { isPrivileged } from '../inventory/diff';
import { ActionFailureReason, type ScanTarget } from '../model';
import type { ScanOptions, ScanOutcome, Scanner } from './index';
import type { ProbeScanner } from './probe';
import type { HostKeyRequest } from './ssh';

/** Opens a host's credential for one session; null when it no longer exists. */
export interface CredentialSource {
  reveal(credentialId: string): Promise<SshCredential | null>;
}

export interface CredentialedScannerOptions {
  /** The network probes (SSH banner, WinRM Identify) every scan starts with; its learnt connect timeout serves the key probe too. */
  probe: ProbeScanner;
  /** Null where no credential can be opened (then hosts with one are scanned without logging in). */
  credentials: CredentialSource | null;
  /** How long the key exchange may take, from the server's banner to its host key. @default 5000 */
  keyReadTimeoutMs?: number;
  collectLimits?: Partial<CollectLimits>;
}

/**
 * A scan that goes on from the probes: where SSH answered, a host with a credential is logged into and its
 * accounts, groups, services and tasks are read (inventory/), its host key checked by its trust policy
 * before the credential is sent; a host without one has its host key read once, at first contact, and
 * recorded. Where SSH did not answer, the probes' outcome stands. A key read before logging in is read on
 * the probe's own connection, going on from the banner: no second connection.
 */
export function createCredentialedScanner(o: CredentialedScannerOptions): Scanner {
  // A server sends its key exchange right after its identification: a few seconds is plenty.
  const keyRequest: HostKeyRequest = { read: readHostKey, timeoutMs: o.keyReadTimeoutMs ?? 5_000 };
  return {
    async scan(target: ScanTarget, signal: AbortSignal, options?: ScanOptions): Promise<ScanOutcome> {
      const ssh = target.ssh;
      const logsIn = !!ssh?.credentialId && !!o.credentials;
      // Without logging in, the key is read where none is recorded; before logging in, where the host's
      // policy would refuse an unknown key anyway (the key is then only named for an Admin to accept).
      const refusesUnknownKey = !!ssh && !ssh.trustedKey && !ssh.acceptKeyOnFirstContact && ssh.trust !== SshTrustAction.AlwaysTrustIgnoreThumbprint;
      const readsKey = !!ssh && !ssh.trustedKey && (!logsIn || refusesUnknownKey);
      const probed = await o.probe.scan(target, signal, { ...options, ...(readsKey ? { hostKey: keyRequest } : {}) });
      const endpoint = probed.sshEndpoint;
      if (!probed.ok || !endpoint || !ssh?.credentialId || !o.credentials) return probed;
      if (refusesUnknownKey) {
        const key = probed.hostKey ?? null;
        return failed(probed, ActionFailureReason.FailedToConnect,
          `No trusted SSH host key, and this host accepts none at first contact${key ? `; it presented ${key.fingerprint} (an Admin can accept it)` : ''}. Not logged in.`,
          key);
      }
      const credential = await o.credentials.reveal(ssh.credentialId);
      if (!credential) return failed(probed, ActionFailureReason.SystemError, "The host's credential no longer exists. Not logged in.", null);
      const collected = await collectInventory(endpoint, credential, { trust: ssh.trust, knownFingerprint: ssh.trustedKey }, signal, o.collectLimits);
      return merge(probed, collected, ssh.trust);
    },
  };
}

function merge(probed: ScanOutcome, c: CollectOutcome, trust: SshTrustAction): ScanOutcome {
  if (!c.ok) {
    const reason = {
      'access-denied': ActionFailureReason.AccessDenied,
      'host-key-mismatch': ActionFailureReason.FailedToConnect,
      timeout: ActionFailureReason.ActionTimeout,
      'connect-failed': ActionFailureReason.FailedToConnect,
      protocol: ActionFailureReason.FailedToConnect,
    }[c.reason];
    return failed(probed, reason, c.message, c.hostKey ?? null);
  }
  const { snapshot } = c;
  const users = snapshot.users.length;
  const privileged = snapshot.users.filter((u) => isPrivileged(u.privilege)).length;
  const os = snapshot.os ?? probed.os;
  const version = snapshot.os ? snapshot.version : probed.version;
  const keyNote = c.hostKeyChanged ? ` The SSH host key changed to ${c.hostKey.fingerprint} (trusted under ${SshTrustAction[trust]}).` : '';
  const partsNote = snapshot.notes.length > 0 ? ` Not read: ${snapshot.notes.join('; ')}` : '';
  return {
    ...probed,
    os,
    version,
    hostKey: c.hostKey,
    inventory: snapshot,
    description: `${snapshot.notes.length > 0 ? 'Completed with errors' : 'Complete'}: ${[os, version].filter(Boolean).join(' ') || 'OS not recognised'}; ${users} accounts (${privileged} privileged), ${snapshot.groups.length} groups, ${snapshot.services.length} services, ${snapshot.scheduledTasks.length} scheduled tasks.${keyNote}${partsNote}`.slice(0, 1000),
  };
}

function failed(probed: ScanOutcome, failureReason: ActionFailureReason, description: string, hostKey: ScanOutcome['hostKey']): ScanOutcome {
  return { ...probed, ok: false, failureReason, description, hostKey, inventory: null };
}
