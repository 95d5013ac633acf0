/**
 * The data provider the app is given: each call loads the GraphQL one
 * (ra-data-graphql, Apollo, graphql) on first use, so the login page's
 * bundle carries none of it.
 */
import type { DataProvider } from "ra-core";

type Method = Exclude<keyof DataProvider, "supportAbortSignal">;

const load = () => import("./graphqlDataProvider.ts").then((m) => m.graphqlDataProvider);

const forward =
  (method: Method) =>
  async (...args: unknown[]) =>
    ((await load())[method] as (...a: unknown[]) => Promise<unknown>)(...args);

export const dataProvider = {
  getList: forward("getList"),
  getOne: forward("getOne"),
  getMany: forward("getMany"),
  getManyReference: forward("getManyReference"),
  create: forward("create"),
  update: forward("update"),
  updateMany: forward("updateMany"),
  delete: forward("delete"),
  deleteMany: forward("deleteMany"),
} as DataProvider;
