import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type Run = Schemas['Run'];
export type RunCreate = Schemas['RunCreate'];

export function useRuns() {
  return useQuery({
    queryKey: ['runs'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.runs;
    },
    refetchInterval: 2000,
  });
}

export function useModels() {
  return useQuery({
    queryKey: ['models'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/models');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: 5000,
  });
}

export type RunStage = RunCreate['stage'];

/** The launch form's fields for a stage, published by the server (TrainConfig / EvalConfig). */
export function useConfigSchema(stage: RunStage) {
  return useQuery({
    queryKey: ['config-schema', stage],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs/config-schema', {
        params: { query: { stage } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    staleTime: Infinity,
  });
}

export function useRunLogs(id: string | null, live: boolean) {
  return useQuery({
    queryKey: ['run-logs', id],
    enabled: id !== null,
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/runs/{run_id}/logs', {
        params: { path: { run_id: id! }, query: { tail: 300 } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.lines;
    },
    refetchInterval: live ? 1500 : false,
  });
}

/** All metrics records of a run, polled while it runs (incrementally, by offset). */
export function useRunMetrics(id: string, live: boolean) {
  return useQuery({
    queryKey: ['run-metrics', id],
    queryFn: async ({ client, queryKey }) => {
      const prev = client.getQueryData<{ records: Record<string, unknown>[]; offset: number }>(queryKey);
      const { data, error, response } = await api.GET('/v1/runs/{run_id}/metrics', {
        params: { path: { run_id: id }, query: { offset: prev?.offset ?? 0, limit: 10000 } },
      });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return { records: [...(prev?.records ?? []), ...data.records], offset: data.next_offset };
    },
    refetchInterval: live ? 1000 : false,
  });
}

function useRunAction(path: '/v1/runs/{run_id}/cancel' | '/v1/runs/{run_id}/resume') {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { data, error, response } = await api.POST(path, { params: { path: { run_id: id } } });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
}

export const useCancelRun = () => useRunAction('/v1/runs/{run_id}/cancel');
export const useResumeRun = () => useRunAction('/v1/runs/{run_id}/resume');

export function useCreateRun() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: RunCreate) => {
      const { data, error, response } = await api.POST('/v1/runs', { body });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['runs'] }),
  });
}

/** A mutation that changes the served model: afterwards the model list and /v1/meta are refetched. */
function useServedModelChange<T>(post: (arg: string) => Promise<T>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: post,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['models'] });
      void qc.invalidateQueries({ queryKey: ['meta'] });
    },
  });
}

/** Hot-swap the served policy to a bundle of the model registry. */
export const useLoadModel = () =>
  useServedModelChange(async (modelId: string) => {
    const { data, error, response } = await api.POST('/v1/models/{model_id}/load', {
      params: { path: { model_id: modelId } },
    });
    if (error !== undefined || data === undefined) throw toServerError(response.status, error);
    return data;
  });

/** Add a finished run's bundle to the model registry (as `run-<id>`) and serve it. */
export const useDeployRun = () =>
  useServedModelChange(async (runId: string) => {
    const { data, error, response } = await api.POST('/v1/runs/{run_id}/deploy', {
      params: { path: { run_id: runId } },
    });
    if (error !== undefined || data === undefined) throw toServerError(response.status, error);
    return data;
  });
