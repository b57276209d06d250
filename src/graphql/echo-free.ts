// graphql-js quotes a value it cannot coerce ("Variable "$input" got invalid value { value: "…" } at
// "input.password"; String cannot represent a non string value: { value: "…" }"). The value may be a
// secret sent in the wrong shape, and answers, proxies and logs must never carry one: these messages keep
// the variable, the path and the reason, and drop the value.

const REASON_START = String.raw`(?:\w+ cannot represent|Expected type "|Field "|Value "|Enum "|Exactly one key|Expected value)`;
const VARIABLE = new RegExp(String.raw`^Variable "(\$\w+)" got invalid value [\s\S]*?(?: at "(\w+(?:\.\w+|\[\d+\])*)")?; (${REASON_START}[\s\S]*)$`);
const ANY_VARIABLE = /^Variable "(\$\w+)" got invalid value /;

/** A reason from graphql-js's coercion, without the value it quotes; an unknown one in general terms. */
function reasonWithoutValue(reason: string): string {
  const scalar = /^(\w+) cannot represent ([^:]*?)(?::[\s\S]*)?\.?$/.exec(reason);
  if (scalar) return `${scalar[1]} cannot represent ${scalar[2]}.`;
  const expected = /^Expected value of type "([^"]+)", found [\s\S]*$/.exec(reason);
  if (expected) return `Expected a value of type "${expected[1]}".`;
  const enumValue = /^Value "[\s\S]*" does not exist in "(\w+)" enum\.[\s\S]*$/.exec(reason);
  if (enumValue) return `The value is not one of the "${enumValue[1]}" enum.`;
  // These name only the schema's own fields and types.
  if (/^(?:Expected type "\w+" to be an object\.|Field "\w+" of required type "[\w![\]]+" was not provided\.|Field "\w+" is not defined by type "\w+"\.(?: Did you mean [\w", ]+\?)?|Exactly one key must be specified for OneOf type "\w+"\.)$/.test(reason)) {
    return reason;
  }
  return 'The value does not fit its type.';
}

/** The message without any value the caller sent (for variable coercion and literal validation errors). */
export function withoutEchoedValues(message: string): string {
  const variable = VARIABLE.exec(message);
  if (variable) return `Variable "${variable[1]}" got an invalid value${variable[2] ? ` at "${variable[2]}"` : ''}; ${reasonWithoutValue(variable[3]!)}`;
  const anyVariable = ANY_VARIABLE.exec(message);
  if (anyVariable) return `Variable "${anyVariable[1]}" got an invalid value.`;
  // Literal validation: only the forms that quote the literal change.
  if (/^(?:\w+ cannot represent [^:]*:|Expected value of type "[^"]+", found |Value "[\s\S]*" does not exist in "\w+" enum\.)/.test(message)) {
    return reasonWithoutValue(message);
  }
  return message;
}
