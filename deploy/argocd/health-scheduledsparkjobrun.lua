-- Argo CD health check for emr-on-eks.dev/v1alpha1 ScheduledSparkJobRun
-- (resource.customizations.health.emr-on-eks.dev_ScheduledSparkJobRun; see argocd-cm-snippet.yaml).
--
--   no status / observedGeneration behind metadata.generation -> Progressing (operator not there yet)
--   ScheduleValid=False (bad cron, time zone, name, template) -> Degraded
--   Ready=False with a reason in NEEDS_A_FIX                  -> Degraded (a slot could not start)
--   spec.suspend                                              -> Suspended
--   status.lastResult Failed or Cancelled                     -> Degraded (the last run failed)
--   anything else                                             -> Healthy (the schedule is running)
-- A schedule is never Progressing once observed: its runs come and go, and a sync must not wait
-- for the next slot. Each run is a SparkJobRun with its own health.
-- Written for Argo CD's default sandbox (useOpenLibs off): only the base, table and safe os
-- libraries exist there, so no string.* or math.* calls and no string methods.

-- Reasons (crates/emr-api/src/scheduled_spark_job_run/status.rs) that need a person to act.
local NEEDS_A_FIX = {
  InvalidSchedule = true,
  InvalidTimeZone = true,
  InvalidTemplate = true,
  NameTooLong = true,
  NameTaken = true,
  CreateRefused = true,
  ReconcilePanicked = true,
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

local function explain(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  elseif message ~= "" then
    return message
  end
  return reason
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the schedule"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

for _, type_ in ipairs({ "ScheduleValid", "Ready" }) do
  local c = condition(status, type_)
  if c ~= nil and c.status == "False" and NEEDS_A_FIX[c.reason or ""] then
    hs.status = "Degraded"
    hs.message = explain(c)
    return hs
  end
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended: no slot starts a run"
  return hs
end

if status.lastResult == "Failed" or status.lastResult == "Cancelled" then
  hs.status = "Degraded"
  local next_ = status.nextScheduleTime or "none"
  hs.message = "The last run ended " .. status.lastResult .. "; next run at " .. next_
  return hs
end

hs.status = "Healthy"
if status.message ~= nil and status.message ~= "" then
  hs.message = status.message
else
  hs.message = "Scheduled"
end
return hs
