// Only the lazy provider: the GraphQL machinery stays out of the entry chunk.
export { dataProvider } from "./lazyDataProvider.ts";
