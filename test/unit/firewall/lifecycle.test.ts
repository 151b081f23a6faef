/** The listing lifecycle and allowlist on the SQLite store (the suite: lifecycle.suite.ts). */
import { lifecycleSuite } from './lifecycle.suite.js';

lifecycleSuite('sqlite');
