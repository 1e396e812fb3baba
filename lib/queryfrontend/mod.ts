// Thanos's query-frontend, as a library: request splitting, step alignment, retries, results cache
// with extents, downsampled completion; plugins/component/query-frontend wires it to the host.
export { QueryFrontend, HttpError, operationOf, rangeCacheKey, labelsCacheKey, MAX_BODY_BYTES, type FrontendOptions, type RangeConfig, type LabelsConfig } from './frontend.ts';
export { parseResponseCacheConfig, createResponseCache, InMemoryResponseCache, MemcachedResponseCache, InstrumentedCache, hashCacheKey, type ResponseCacheConfig } from './cache.ts';
export { alignToStep, nextIntervalBoundary, splitRangeRequest, splitLabelsRequest, evaluateAtModifiers, isCacheableQuery } from './split.ts';
export { decodeRangeRequest, decodeLabelsRequest, encodeRangeRequest, encodeLabelsRequest, type RangeRequest, type LabelsRequest } from './request.ts';
export { decodeMatrix, mergeMatrix, extractMatrix, encodeResponse, type MatrixResponse } from './response.ts';
export { ResultsCache } from './results_cache.ts';
export { analyzeQuery, isShardable, shardInfos, CachedQueryAnalyzer, type QueryAnalysis } from './shard.ts';
