-- Argo CD health check for emr-on-eks.dev/v1alpha1 SparkJobTemplate and SecurityConfiguration
-- (resource.customizations.health.emr-on-eks.dev_SparkJobTemplate and ..._SecurityConfiguration;
-- see argocd-cm-snippet.yaml). Both stand for an immutable EMR object that the operator replaces
-- when the spec changes, so they share one status shape and this one script:
--   no status / observedGeneration behind metadata.generation -> Progressing (operator not there yet)
--   Ready=True, status.previous empty                         -> Healthy (the EMR object exists and
--                                                                matches the spec)
--   Ready=True, status.previous not empty                     -> Progressing (replaced; older EMR
--                                                                objects wait for their users)
--   Ready=False with a reason in NEEDS_A_FIX                  -> Degraded
--   anything else (being deleted, transient trouble)          -> Progressing
-- Written for Argo CD's default sandbox (useOpenLibs off): no string.* or math.* calls.

-- Reasons that mean a person must change something (the spec, IAM, the VirtualCluster).
local NEEDS_A_FIX = {
  InvalidSpec = true,
  EmrValidationError = true,
  AccessDenied = true,
  ExecutionRoleNotAllowed = true,
  VirtualClusterNotFound = true,
  VirtualClusterInOtherNamespace = true,
  ReconcilePanicked = true,
}

local hs = {}

local function ready_condition(status)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      return c
    end
  end
  return nil
end

local function describe(c, status, fallback)
  if status.message ~= nil and status.message ~= "" then
    return status.message
  end
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to create the EMR object"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = ready_condition(status)
if ready ~= nil and ready.status == "True" then
  if status.previous ~= nil and #status.previous > 0 then
    hs.status = "Progressing"
  else
    hs.status = "Healthy"
  end
  hs.message = describe(ready, status, "The EMR object matches the spec")
  return hs
end

if ready ~= nil and ready.status == "False" and NEEDS_A_FIX[ready.reason or ""] then
  hs.status = "Degraded"
  hs.message = (ready.reason or "") .. ": " .. describe(ready, status, "")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, status, "Creating the EMR object")
return hs
