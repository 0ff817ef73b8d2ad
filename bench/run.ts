/** `npm run bench`: every benchmark, one after the other, printing figures and ratios. */
import { benchDiskPerGrant } from './disk-per-grant.ts';
import { benchGatewayEcho } from './gateway-echo.ts';
import { benchMcpWhoami } from './mcp-whoami.ts';
import { benchRefreshGrants } from './refresh-grants.ts';
import { benchRefreshUnderSignIns } from './refresh-under-sign-ins.ts';
import { benchRepeatedFormFields } from './repeated-form-fields.ts';
import { benchStorageBackends } from './storage-backends.ts';

console.log(`Gatehouse benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
await benchRefreshGrants();
console.log();
await benchRefreshUnderSignIns();
console.log();
await benchMcpWhoami();
console.log();
await benchGatewayEcho();
console.log();
await benchStorageBackends();
console.log();
await benchDiskPerGrant();
console.log();
await benchRepeatedFormFields();
