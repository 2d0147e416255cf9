// portcullis schema: the JSON Schema of gateway.yaml, from the same definitions as the validator.
import { gatewayJsonSchema } from '../config/schema.ts';

export function schemaCommand(_args: readonly string[], out: NodeJS.WritableStream = process.stdout): number {
  out.write(JSON.stringify(gatewayJsonSchema(), null, 2) + '\n');
  return 0;
}
