// linux.resources (config-linux.md "Control groups"), also read alone by ParseResources for
// `update --resources`.
#include "oci/json_read.h"

namespace skiff::oci {

static Status Read(const Json& j, const std::string& path, DeviceRule* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "allow", &out->allow));
  TRY(Field(j, path, "type", &out->type));
  // Absent major/minor mean "any" (the '*' of devices.allow), so they stay optional.
  TRY(Field(j, path, "major", &out->major));
  TRY(Field(j, path, "minor", &out->minor));
  TRY(Field(j, path, "access", &out->access));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Memory* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "limit", &out->limit));
  TRY(Field(j, path, "reservation", &out->reservation));
  TRY(Field(j, path, "swap", &out->swap));
  TRY(Field(j, path, "kernel", &out->kernel));
  TRY(Field(j, path, "kernelTCP", &out->kernel_tcp));
  TRY(Field(j, path, "swappiness", &out->swappiness));
  TRY(Field(j, path, "disableOOMKiller", &out->disable_oom_killer));
  TRY(Field(j, path, "useHierarchy", &out->use_hierarchy));
  TRY(Field(j, path, "checkBeforeUpdate", &out->check_before_update));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Cpu* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "shares", &out->shares));
  TRY(Field(j, path, "quota", &out->quota));
  TRY(Field(j, path, "burst", &out->burst));
  TRY(Field(j, path, "period", &out->period));
  TRY(Field(j, path, "realtimeRuntime", &out->realtime_runtime));
  TRY(Field(j, path, "realtimePeriod", &out->realtime_period));
  TRY(Field(j, path, "cpus", &out->cpus));
  TRY(Field(j, path, "mems", &out->mems));
  TRY(Field(j, path, "idle", &out->idle));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Pids* out) {
  TRY(ExpectObject(j, path));
  // REQUIRED by the spec, but runc and crun treat a missing limit as "no change", which
  // is what `update` relies on.
  TRY(Field(j, path, "limit", &out->limit));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, WeightDevice* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "major", &out->major));
  TRY(Required(j, path, "minor", &out->minor));
  TRY(Field(j, path, "weight", &out->weight));
  TRY(Field(j, path, "leafWeight", &out->leaf_weight));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, ThrottleDevice* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "major", &out->major));
  TRY(Required(j, path, "minor", &out->minor));
  TRY(Required(j, path, "rate", &out->rate));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, BlockIO* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "weight", &out->weight));
  TRY(Field(j, path, "leafWeight", &out->leaf_weight));
  TRY(Field(j, path, "weightDevice", &out->weight_device));
  TRY(Field(j, path, "throttleReadBpsDevice", &out->throttle_read_bps_device));
  TRY(Field(j, path, "throttleWriteBpsDevice", &out->throttle_write_bps_device));
  TRY(Field(j, path, "throttleReadIOPSDevice", &out->throttle_read_iops_device));
  TRY(Field(j, path, "throttleWriteIOPSDevice", &out->throttle_write_iops_device));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, HugepageLimit* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "pageSize", &out->page_size));
  TRY(Required(j, path, "limit", &out->limit));
  return Ok();
}

// priorities is a list of {name, priority}; spec.h keeps it as pairs, and std::pair is
// out of reach of the templates' argument-dependent lookup, hence the loop here.
static Status ReadPriorities(const Json& j, const std::string& path,
                             std::vector<std::pair<std::string, uint32_t>>* out) {
  if (!j.is_array()) return JsonTypeError(path, "an array");
  for (size_t i = 0; i < j.size(); i++) {
    std::string item = JsonIndex(path, i);
    TRY(ExpectObject(j[i], item));
    std::pair<std::string, uint32_t> p;
    TRY(Required(j[i], item, "name", &p.first));
    TRY(Required(j[i], item, "priority", &p.second));
    out->push_back(std::move(p));
  }
  return Ok();
}

static Status Read(const Json& j, const std::string& path, NetworkResources* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "classID", &out->class_id));
  auto it = j.find("priorities");
  if (it != j.end() && !it->is_null()) {
    TRY(ReadPriorities(*it, JsonMember(path, "priorities"), &out->priorities));
  }
  return Ok();
}

Status Read(const Json& j, const std::string& path, Resources* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "devices", &out->devices));
  TRY(Field(j, path, "memory", &out->memory));
  TRY(Field(j, path, "cpu", &out->cpu));
  TRY(Field(j, path, "pids", &out->pids));
  TRY(Field(j, path, "blockIO", &out->block_io));
  TRY(Field(j, path, "hugepageLimits", &out->hugepage_limits));
  TRY(Field(j, path, "network", &out->network));
  TRY(Field(j, path, "unified", &out->unified));
  return Ok();
}

}  // namespace skiff::oci
