import os from 'node:os';

/** Who performs an operator action: the name given (trimmed), else the OS user. */
export function operatorName(by?: string): string {
  if (by?.trim()) return by.trim();
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
