import { describe, expect, it } from 'vitest';
import { withoutEchoedValues } from '../src/graphql/echo-free';

// graphql-js's own messages (graphql 16), as they arrive from variable coercion and literal validation.
describe('withoutEchoedValues', () => {
  it.each([
    [
      'Variable "$input" got invalid value { value: "s3cret" } at "input.password"; String cannot represent a non string value: { value: "s3cret" }',
      'Variable "$input" got an invalid value at "input.password"; String cannot represent a non string value.',
    ],
    ['Variable "$n" got invalid value 1e+21; Int cannot represent non 32-bit signed integer value: 1e+21', 'Variable "$n" got an invalid value; Int cannot represent non 32-bit signed integer value.'],
    ['Variable "$k" got invalid value "s3cret" at "k[0]"; Value "s3cret" does not exist in "CredentialKind" enum.', 'Variable "$k" got an invalid value at "k[0]"; The value is not one of the "CredentialKind" enum.'],
    // A value that imitates the message's own separators.
    ['Variable "$i" got invalid value "a; b at \\"x\\"; s3cret"; Custom scalar says s3cret', 'Variable "$i" got an invalid value.'],
    ['String cannot represent a non string value: {value: "s3cret"}', 'String cannot represent a non string value.'],
    ['Expected value of type "Int!", found "s3cret"; Int cannot represent non-integer value: "s3cret"', 'Expected a value of type "Int!".'],
  ])('%s', (message, expected) => {
    expect(withoutEchoedValues(message)).toBe(expected);
    expect(withoutEchoedValues(message)).not.toContain('s3cret');
  });

  it.each([
    'Variable "$input" of required type "HostInput!" was not provided.',
    'Variable "$i" got invalid value { a: 1 } at "i"; Field "name" of required type "String!" was not provided.',
    'Field "hosts" argument "first" of type "Int!" is required, but it was not provided.',
    'Cannot query field "nope" on type "Query".',
  ])('keeps what names only the schema: %s', (message) => {
    expect(withoutEchoedValues(message)).toBe(message.replace(' got invalid value { a: 1 } at "i";', ' got an invalid value at "i";'));
  });
});
