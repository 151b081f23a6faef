/** Firewall.decide on the SQLite store (the suite: decide.suite.ts). */
import { decideSuite } from './decide.suite.js';

decideSuite('sqlite');
