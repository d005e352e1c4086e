/** The ARQ search's DDPG agent (search.md, "Agent (DDPG, as HAQ)"). */
export { DdpgAgent, DDPG_DEFAULTS } from './ddpg.js';
export type { AgentState, DdpgOptions, ResolvedDdpgOptions, Transition, UpdateLosses } from './ddpg.js';
