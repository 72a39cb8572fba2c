-- Argo CD health check for emr-on-eks.dev/v1alpha1 SparkJobRun
-- (resource.customizations.health.emr-on-eks.dev_SparkJobRun; see argocd-cm-snippet.yaml).
--
-- A job is Progressing while it waits, runs or waits to be resubmitted, Healthy only once it
-- succeeded and Degraded when it failed or was cancelled for good, so that sync waves and hooks
-- that wait for it are released exactly when the job is done:
--   no status / observedGeneration behind metadata.generation -> Progressing (operator not there yet)
--   Succeeded=True (or Ready=True)                            -> Healthy
--   Failed=True (failed, cancelled, DeadlineExceeded, ...)    -> Degraded
--   Suspended=True (spec.suspend holds the first submission)  -> Suspended
--   Submitted/Ready=False with a reason in NEEDS_A_FIX          -> Degraded (waits for a spec or
--                                                                 IAM fix; never starts alone)
--   anything else (pending, submitted, running, cancel pending,
--   waiting to resubmit, waiting for its VirtualCluster, queued
--   for a slot of its VirtualCluster)                         -> Progressing
-- Written for Argo CD's default sandbox (useOpenLibs off): only the base, table and safe os
-- libraries exist there, so no string.* or math.* calls and no string methods.
-- Other conditions (e.g. SpecChangeRefused, which leaves the run going) do not change health.
-- Suspended only while spec.suspend holds the job back (a person lifts it); a job waiting for
-- something else (its VirtualCluster, a slot, a resubmission) must hold back later sync waves,
-- which Progressing does.

-- Reasons that mean the job cannot start until a person changes something.
local NEEDS_A_FIX = {
  InvalidSpec = true,
  ExecutionRoleNotAllowed = true,
  RawVirtualClusterIdNotAllowed = true,
  VirtualClusterInOtherNamespace = true,
  EmrValidationError = true,
  AccessDenied = true,
}

local STATE_MESSAGES = {
  PENDING = "EMR job run is pending",
  SUBMITTED = "EMR job run is submitted",
  RUNNING = "EMR job run is running",
  CANCEL_PENDING = "EMR job run is being cancelled",
  COMPLETED = "EMR job run completed",
  FAILED = "EMR job run failed",
  CANCELLED = "EMR job run was cancelled",
}

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

local function is_true(c)
  return c ~= nil and c.status == "True"
end

-- "Reason: message", the condition's own words, else the status message, else the fallback.
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
  hs.message = "Waiting for the operator to pick up the job run"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local succeeded = condition(status, "Succeeded")
local failed = condition(status, "Failed")
local ready = condition(status, "Ready")
local submitted = condition(status, "Submitted")

if is_true(succeeded) or (is_true(ready) and not is_true(failed)) then
  hs.status = "Healthy"
  hs.message = describe(succeeded or ready, status, "EMR job run completed")
  return hs
end

if is_true(failed) then
  hs.status = "Degraded"
  hs.message = describe(failed, status, STATE_MESSAGES[status.state or ""] or "Job run failed")
  return hs
end

local suspended = condition(status, "Suspended")
if is_true(suspended) then
  hs.status = "Suspended"
  hs.message = describe(suspended, status, "Suspended")
  return hs
end

for _, c in ipairs({ submitted, ready }) do
  if c ~= nil and c.status == "False" and NEEDS_A_FIX[c.reason or ""] then
    hs.status = "Degraded"
    hs.message = describe(c, status, c.reason)
    return hs
  end
end

hs.status = "Progressing"
if status.nextAttemptAt ~= nil then
  hs.message = describe(nil, status, "Waiting to resubmit at " .. status.nextAttemptAt)
  return hs
end
hs.message = describe(nil, status, STATE_MESSAGES[status.state or ""] or "Waiting for the job run to start")
return hs
