import type { AccountFormValues, FormErrors } from '../account-form';

/** The account form's fields, for the create page and the account page. */

const FieldErrors = (props: { messages: string[] | undefined }) =>
  props.messages ? (
    <>
      {props.messages.map((m) => (
        <div class="field-error">{m}</div>
      ))}
    </>
  ) : null;

const Text = (props: { name: keyof AccountFormValues; label: string; hint?: string; values: AccountFormValues; errors: FormErrors; required?: boolean; readonly?: boolean }) => (
  <div class="field">
    <label for={props.name}>
      {props.label} {props.hint ? <span class="hint">{props.hint}</span> : null}
    </label>
    <input
      type="text"
      id={props.name}
      name={props.name}
      value={props.values[props.name]}
      required={props.required}
      readonly={props.readonly}
      aria-invalid={props.errors[props.name] ? 'true' : undefined}
    />
    <FieldErrors messages={props.errors[props.name]} />
  </div>
);

const Area = (props: { name: keyof AccountFormValues; label: string; hint?: string; values: AccountFormValues; errors: FormErrors; readonly?: boolean }) => (
  <div class="field">
    <label for={props.name}>
      {props.label} {props.hint ? <span class="hint">{props.hint}</span> : null}
    </label>
    <textarea id={props.name} name={props.name} readonly={props.readonly} aria-invalid={props.errors[props.name] ? 'true' : undefined}>
      {props.values[props.name]}
    </textarea>
    <FieldErrors messages={props.errors[props.name]} />
  </div>
);

export const AccountFields = (props: {
  values: AccountFormValues;
  errors: FormErrors;
  defaultRateLimit: number;
  readonly?: boolean;
  /** Creating, as a platform admin: the organization may be chosen. */
  chooseOrg?: boolean;
}) => {
  const common = { values: props.values, errors: props.errors, readonly: props.readonly };
  return (
    <div class="form-grid">
      <div>
        <Text name="name" label="Name" hint="(unique)" required {...common} />
        <Area name="description" label="Description" {...common} />
        <Text name="scopes" label="Scopes" hint="(separated by spaces)" {...common} />
        <Text name="audiences" label="Audiences" hint="(separated by spaces; the first is the default)" {...common} />
        <Text name="roles" label="Roles" hint="(separated by spaces: built-in or of the organization)" {...common} />
        {props.chooseOrg ? <Text name="org_id" label="Organization" hint="(empty: yours; fixed once created)" {...common} /> : null}
      </div>
      <div>
        <Text name="rate_limit_per_minute" label="Limit per minute" hint={`(empty: the default, ${props.defaultRateLimit})`} {...common} />
        <Text name="token_ttl_seconds" label="Token lifetime in seconds" hint="(empty: the default)" {...common} />
        <Area name="allowed_ips" label="Allowed IPs" hint="(addresses or CIDR ranges, one per line or comma-separated; empty: anywhere)" {...common} />
      </div>
    </div>
  );
};
