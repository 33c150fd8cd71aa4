/** The chaos suite's global setup: expectations are computed afresh; at the end, RESULTS.md is rewritten. */
import { clearExpectations, writeResults } from './results.js';

export default function setup(): () => void {
  clearExpectations();
  return writeResults;
}
