import { collectInventory, probeHostKey, SshTrustAction, type CollectLimits, type CollectOutcome, type SshCredential } from '../inventory';
import { isPrivileged } from '../inventory/diff';
import { ActionFailureReason, type ScanTarget } from '../model';
import type { ProbeTimeouts } from './probe-result';
import type { ScanOutcome, Scanner } from './index';
import type { ProbeScanner } from './probe';

/** Opens a host's credential for one session; null when it no longer exists. */
export interface CredentialSource {
  reveal(credentialId: string): Promise<SshCredential | null>;
}

export interface CredentialedScannerOptions {
  /** The network probes (SSH banner, WinRM Identify) every scan starts with; its learnt connect timeout serves the key probe too. */
  probe: ProbeScanner;
  /** Null where no credential can be opened (then hosts with one are scanned without logging in). */
  credentials: CredentialSource | null;
  /** How long the host key probe waits for the key once connected. @default 5000 */
  keyReadTimeoutMs?: number;
  collectLimits?: Partial<CollectLimits>;
}

/**
 * A scan that goes on from the probes: where SSH answered, a host with a credential is logged into and its
 * accounts, groups, services and tasks are read (inventory/), its host key checked by its trust policy
 * before the credential is sent; a host without one has its host key read once, at first contact, and
 * recorded. Where SSH did not answer, the probes' outcome stands.
 */
export function createCredentialedScanner(o: CredentialedScannerOptions): Scanner {
  // A server sends its key exchange right after its identification: a few seconds is plenty.
  const keyTimeouts: ProbeTimeouts = { connect: o.probe.connectTimeout, readTimeoutMs: o.keyReadTimeoutMs ?? 5_000 };
  return {
    async scan(target: ScanTarget, signal: AbortSignal): Promise<ScanOutcome> {
      const probed = await o.probe.scan(target, signal);
      const endpoint = probed.sshEndpoint;
      const ssh = target.ssh;
      if (!probed.ok || !endpoint || !ssh) return probed;
      if (!ssh.credentialId || !o.credentials) {
        if (ssh.trustedKey) return probed;
        const key = await probeHostKey(endpoint.host, endpoint.port, keyTimeouts, signal);
        signal.throwIfAborted();
        return key.ok ? { ...probed, hostKey: key.value } : probed;
      }
      if (!ssh.trustedKey && !ssh.acceptKeyOnFirstContact && ssh.trust !== SshTrustAction.AlwaysTrustIgnoreThumbprint) {
        const key = await probeHostKey(endpoint.host, endpoint.port, keyTimeouts, signal);
        signal.throwIfAborted();
        return failed(probed, ActionFailureReason.FailedToConnect,
          `No trusted SSH host key, and this host accepts none at first contact${key.ok ? `; it presented ${key.value.fingerprint} (an Admin can accept it)` : ''}. Not logged in.`,
          key.ok ? key.value : null);
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
