import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type RobotSessionInfo = Schemas['RobotSessionInfo'];
export type RobotCreate = Schemas['RobotCreate'];

export function useRobotSessions() {
  return useQuery({
    queryKey: ['robots'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/robots');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.sessions;
    },
    refetchInterval: 3000,
  });
}

export function useCreateRobot() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: Partial<RobotCreate>) => {
      const { data, error, response } = await api.POST('/v1/robots', { body: body as RobotCreate });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['robots'] }),
  });
}

export function useDeleteRobot() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { error, response } = await api.DELETE('/v1/robots/{session_id}', {
        params: { path: { session_id: id } },
      });
      if (error !== undefined) throw toServerError(response.status, error);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['robots'] }),
  });
}
