// A page of a list RPC: ListInstances, ListNodes, ListClusters (the manager caps a page at 1000
// and hands a token for the next; empty on the last page).
export interface Paged {
  nextPageToken: string;
}

// Follows next_page_token from the first page to the last, yielding each item once.
export async function* pages<Item>(fetch: (req: object) => Promise<Paged>, req: object, items: (page: Paged) => Item[]): AsyncGenerator<Item> {
  let pageToken = '';
  do {
    const page = await fetch({ ...req, pageToken });
    yield* items(page);
    pageToken = page.nextPageToken;
  } while (pageToken);
}
