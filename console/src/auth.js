// Who the console acts as. In AWS: a Cognito user pool login, exchanged through the identity
// pool for short-lived credentials of the role that may only call the admin API. On the local
// cloud: its fixed credentials (access key `local`, secret `local`), typed into the same form.

const KEY = "nurture.console.credentials";

export async function login(config, username, password) {
  if (config.mode === "local") {
    return remember({ accessKeyId: username, secretAccessKey: password });
  }
  const { CognitoIdentityProviderClient, InitiateAuthCommand } = await import(
    "@aws-sdk/client-cognito-identity-provider"
  );
  const { fromCognitoIdentityPool } = await import("@aws-sdk/credential-provider-cognito-identity");
  const idp = new CognitoIdentityProviderClient({ region: config.region });
  const answer = await idp.send(
    new InitiateAuthCommand({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  );
  if (!answer.AuthenticationResult) {
    throw new Error(`Cognito asks for ${answer.ChallengeName}: finish it in the hosted UI or with the AWS CLI first`);
  }
  const provider = fromCognitoIdentityPool({
    clientConfig: { region: config.region },
    identityPoolId: config.identityPoolId,
    logins: {
      [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: answer.AuthenticationResult.IdToken,
    },
  });
  const creds = await provider();
  return remember({
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken,
    expiration: creds.expiration ? creds.expiration.toISOString() : undefined,
  });
}

function remember(creds) {
  sessionStorage.setItem(KEY, JSON.stringify(creds));
  return creds;
}

export function current() {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  const creds = JSON.parse(raw);
  if (creds.expiration && new Date(creds.expiration).getTime() < Date.now() + 60_000) {
    logout();
    return null;
  }
  return creds;
}

export function logout() {
  sessionStorage.removeItem(KEY);
}
