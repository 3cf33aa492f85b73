// Rounding for hot loops. Node 20's V8 (11.3) compiles Math.round to a call costing ~8 ns, where
// Math.floor is one instruction: in a loop over a 211×158 working picture that was most of its time.

/**
 * Math.round(x). floor(x + ½) is Math.round exactly wherever x + ½ is
 * exact, and where it is not the floor still comes out the same, with one exception: x = ½ − 2^-54
 * (the largest double below ½), which it rounds to 1. Pixel arithmetic here cannot produce that
 * value: float32 values plus or minus integers, and quotients of integers by small counts, lie on
 * coarser grids near ½. (A zero result may come out as 0 where Math.round gives −0.)
 */
export const roundHalfUp = (x: number): number => Math.floor(x + 0.5);

/** The one double that roundHalfUp rounds differently from Math.round: ½ − 2^-54. */
const BELOW_HALF = 0.5 - 2 ** -54;

/**
 * Math.round(x) for x ≥ 0, exactly, for any such double (roundHalfUp with its one exception
 * handled): for loops whose values are arbitrary products, such as ink × level × 255.
 */
export const roundNonNegative = (x: number): number => (x === BELOW_HALF ? 0 : Math.floor(x + 0.5));
