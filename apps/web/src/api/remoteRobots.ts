import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type RemoteRobotInfo = Schemas['RemoteRobotInfo'];
export type Launchable = Schemas['Launchable'];
export type LaunchRequest = Schemas['LaunchRequest'];
export type LaunchedRobot = Schemas['LaunchedRobot'];

/** Robots connected to the server through pixelvla_robot (packages/robot-client), polled. */
export function useRemoteRobots() {
  return useQuery({
    queryKey: ['remote-robots'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/remote-robots');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data.robots;
    },
    refetchInterval: 2000,
  });
}

/** What the server can launch as a robot itself (LIBERO's suites and tasks); it changes only when
 * LIBERO's environment gets installed, so it is read once and again after a launch. */
export function useLaunchable() {
  return useQuery({
    queryKey: ['remote-robots', 'launchable'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/remote-robots/launchable');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    staleTime: Infinity,
  });
}

/** The robots the server launched, polled fast while one installs or starts. */
export function useLaunched(pollMs: (robots: LaunchedRobot[]) => number) {
  return useQuery({
    queryKey: ['remote-robots', 'launched'],
    queryFn: async () => {
      const { data, error, response } = await api.GET('/v1/remote-robots/launched');
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    refetchInterval: (q) => pollMs(q.state.data?.robots ?? []),
  });
}

export function useLaunchRobot() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: LaunchRequest) => {
      const { data, error, response } = await api.POST('/v1/remote-robots/launch', { body });
      if (error !== undefined || data === undefined) throw toServerError(response.status, error);
      return data;
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['remote-robots'] }),
  });
}

export function useStopLaunched() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const { error, response } = await api.DELETE('/v1/remote-robots/launched/{launch_id}', {
        params: { path: { launch_id: id } },
      });
      if (error !== undefined) throw toServerError(response.status, error);
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['remote-robots'] }),
  });
}
