-- Argo CD health check for emr-on-eks.dev/v1alpha1 VirtualCluster (cluster-scoped)
-- (resource.customizations.health.emr-on-eks.dev_VirtualCluster; see argocd-cm-snippet.yaml).
--
--   no status / observedGeneration behind metadata.generation -> Progressing (operator not there yet)
--   status.state ARRESTED (EMR gave up on the namespace)      -> Degraded
--   Ready=True                                                -> Healthy
--   Ready or a part (NamespaceReady, EmrAccessReady, TrustPoliciesReady, ServiceAccountsReady,
--   VirtualClusterReady) False with a reason in NEEDS_A_FIX   -> Degraded
--   anything else (converging, waiting, being deleted)        -> Progressing
-- Suspended is never used: nothing pauses a VirtualCluster.
-- Written for Argo CD's default sandbox (useOpenLibs off): only the base, table and safe os
-- libraries exist there, so no string.* or math.* calls and no string methods.

-- Reasons (the operator's, crates/emr-operator/src/virtual_cluster/) that mean it cannot
-- finish until a person changes something: the spec, IAM, RBAC, aws-auth or EMR itself.
-- Transient ones (AwsThrottled, AwsUnavailable, AwsError, KubernetesApiError, Conflict,
-- Terminating, Waiting...) stay Progressing.
local NEEDS_A_FIX = {
  AccessDenied = true,
  Forbidden = true,
  InvalidSpec = true,
  InvalidRoleArn = true,
  NamespaceOwnedByAnotherVirtualCluster = true,
  NamespaceNotFound = true,
  NamespaceChanged = true,
  NoOidcIssuer = true,
  MissingIdentity = true,
  AwsAuthEntryConflict = true,
  AwsAuthUnreadable = true,
  AwsRejected = true,
  VirtualClusterBoundElsewhere = true,
  Arrested = true,
}

local PARTS = { "Ready", "NamespaceReady", "EmrAccessReady", "TrustPoliciesReady", "ServiceAccountsReady", "VirtualClusterReady" }

local hs = {}

local function condition(status, type_)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function describe(c, status, fallback)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  if c ~= nil then
    local reason = c.reason or ""
    local message = c.message or ""
    if reason ~= "" and message ~= "" then
      return reason .. ": " .. message
    elseif message ~= "" then
      return message
    elseif reason ~= "" then
      return reason
    end
  end
  return fallback
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to set up the virtual cluster"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if status.state == "ARRESTED" then
  hs.status = "Degraded"
  hs.message = describe(nil, status, "EMR virtual cluster is ARRESTED")
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, status, "Virtual cluster is ready")
  return hs
end

for _, type_ in ipairs(PARTS) do
  local c = condition(status, type_)
  if c ~= nil and c.status == "False" and NEEDS_A_FIX[c.reason or ""] then
    hs.status = "Degraded"
    hs.message = describe(c, status, type_ .. ": " .. c.reason)
    return hs
  end
end

hs.status = "Progressing"
hs.message = describe(ready, status, "Setting up the virtual cluster")
return hs
