// Evaluate AWS requests against an identity policy with @cloud-copilot/iam-simulate.
// stdin: {"policy": {...}, "account": "123456789012", "principal": "arn:...",
//         "requests": [{"action": "s3:GetObject", "resource": "arn:...", "context": {...}}]}
// stdout: [{"action", "resource", "result": "Allowed"|"ImplicitlyDenied"|..., "errors"?}]
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const out = []
for (const req of input.requests) {
  const response = await runSimulation({
    identityPolicies: [{ name: 'generated', policy: input.policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: req.action,
      principal: input.principal,
      resource: { resource: req.resource, accountId: input.account },
      contextVariables: req.context || {}
    }
  }, {})
  if (response.resultType === 'error') {
    out.push({ action: req.action, resource: req.resource, result: 'Error', errors: response.errors })
  } else {
    out.push({ action: req.action, resource: req.resource, result: response.overallResult })
  }
}
process.stdout.write(JSON.stringify(out))
