/** Makes a `switch` over a union exhaustive: a new member is a compile error here, and a throw if one slips through at run time. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
