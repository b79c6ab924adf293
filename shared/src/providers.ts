/** The CLIs the bridge can drive. One BullMQ queue each, named after the provider. */
export const PROVIDERS = ['claude', 'codex'] as const;
export type Provider = (typeof PROVIDERS)[number];
