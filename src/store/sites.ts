/** Sites (tenants). The public `siteKey` is unique; everything else hangs off the site id. */
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { Routing, Site } from '../domain/model.js';

type SiteDoc = Omit<Site, 'id'> & { _id: string };

export const siteIndexes: IndexDescription[] = [{ key: { siteKey: 1 }, name: 'site_key', unique: true }];

export function createSiteRepository(db: Db) {
  const col: Collection<SiteDoc> = db.collection('sites');
  return {
    async get(id: string) {
      const doc = await col.findOne({ _id: id });
      return doc ? toSite(doc) : null;
    },
    async setRouting(id: string, routing: Routing) {
      const doc = await col.findOneAndUpdate({ _id: id }, { $set: { routing } }, { returnDocument: 'after' });
      return doc ? toSite(doc) : null;
    },
    async setSlowMode(id: string, seconds: number) {
      const doc = await col.findOneAndUpdate({ _id: id }, { $set: { slowModeSeconds: seconds } }, { returnDocument: 'after' });
      return doc ? toSite(doc) : null;
    },
    async createSite(site: Site) {
      const { id, ...rest } = site;
      await col.insertOne({ _id: id, ...rest });
    },
    async siteByKey(siteKey: string) {
      const doc = await col.findOne({ siteKey });
      return doc ? toSite(doc) : null;
    },
    countSites() {
      return col.estimatedDocumentCount();
    },
  };
}

function toSite(doc: SiteDoc): Site {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}
