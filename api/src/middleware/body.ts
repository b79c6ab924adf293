import type { Config } from '@cli-bridge/shared';
import express, { type RequestHandler } from 'express';

/**
 * The JSON body parser, mounted on each route AFTER its authentication: a body (up to
 * BODY_LIMIT_BYTES) is read only for a caller the bridge knows, so unauthenticated clients cannot
 * make it buffer megabytes.
 */
export function jsonBody(config: Pick<Config, 'BODY_LIMIT_BYTES'>): RequestHandler {
  return express.json({ limit: config.BODY_LIMIT_BYTES });
}
