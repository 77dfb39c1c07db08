import { useQuery } from '@tanstack/react-query';
import { api, type Schemas, toServerError } from './client';

export type RemoteRobotInfo = Schemas['RemoteRobotInfo'];

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
