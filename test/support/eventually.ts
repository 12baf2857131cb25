export { eventually } from '../../native/eventually.ts';
