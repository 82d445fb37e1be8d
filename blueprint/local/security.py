"""KMS, IAM, Secrets Manager and CloudWatch Logs."""

from __future__ import annotations

from typing import Any

from blueprint.local.registry import Created, Ctx, translates


@translates("aws:kms/key:Key")
def kms_key(ctx: Ctx) -> Created:
    kms = ctx.client("kms")
    request: dict[str, Any] = {
        "Description": ctx.inputs.get("description", ""),
        "KeyUsage": ctx.inputs.get("keyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": ctx.inputs.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
        "Tags": ctx.tag_list("TagKey", "TagValue"),
    }
    if ctx.inputs.get("policy"):
        request["Policy"] = ctx.inputs["policy"]
    metadata = kms.create_key(**request)["KeyMetadata"]
    if ctx.inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(
            KeyId=metadata["KeyId"],
            RotationPeriodInDays=ctx.inputs.get("rotationPeriodInDays", 365),
        )
    # The deletion window is an argument of ScheduleKeyDeletion, used only on destroy.
    return Created(metadata["KeyId"], {"keyId": metadata["KeyId"], "arn": metadata["Arn"]})


@translates("aws:kms/alias:Alias")
def kms_alias(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    ctx.client("kms").create_alias(AliasName=name, TargetKeyId=ctx.inputs["targetKeyId"])
    return Created(name, {"arn": f"arn:aws:kms:{ctx.region}:{ctx.account}:{name}"})


@translates("aws:iam/role:Role")
def iam_role(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    request: dict[str, Any] = {
        "RoleName": name,
        "Path": ctx.inputs.get("path", "/"),
        "AssumeRolePolicyDocument": ctx.inputs["assumeRolePolicy"],
        "Description": ctx.inputs.get("description", ""),
        "MaxSessionDuration": ctx.inputs.get("maxSessionDuration", 3600),
        "Tags": ctx.tag_list(),
    }
    if ctx.inputs.get("permissionsBoundary"):
        request["PermissionsBoundary"] = ctx.inputs["permissionsBoundary"]
    role = ctx.client("iam").create_role(**request)["Role"]
    return Created(name, {"name": name, "arn": role["Arn"], "uniqueId": role["RoleId"]})


@translates("aws:iam/rolePolicy:RolePolicy")
def iam_role_policy(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    ctx.client("iam").put_role_policy(
        RoleName=ctx.inputs["role"], PolicyName=name, PolicyDocument=ctx.inputs["policy"]
    )
    return Created(f"{ctx.inputs['role']}:{name}", {"name": name})


@translates("aws:iam/policy:Policy")
def iam_policy(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    policy = ctx.client("iam").create_policy(
        PolicyName=name,
        Path=ctx.inputs.get("path", "/"),
        PolicyDocument=ctx.inputs["policy"],
        Description=ctx.inputs.get("description", ""),
        Tags=ctx.tag_list(),
    )["Policy"]
    return Created(
        policy["Arn"], {"name": name, "arn": policy["Arn"], "policyId": policy["PolicyId"]}
    )


@translates("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def iam_role_policy_attachment(ctx: Ctx) -> Created:
    ctx.client("iam").attach_role_policy(
        RoleName=ctx.inputs["role"], PolicyArn=ctx.inputs["policyArn"]
    )
    return Created(f"{ctx.inputs['role']}-{ctx.inputs['policyArn']}")


@translates("aws:secretsmanager/secret:Secret")
def secret(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    request: dict[str, Any] = {
        "Name": name,
        "Description": ctx.inputs.get("description", ""),
        "Tags": ctx.tag_list(),
    }
    if ctx.inputs.get("kmsKeyId"):
        request["KmsKeyId"] = ctx.inputs["kmsKeyId"]
    # The recovery window is an argument of DeleteSecret, used only on destroy.
    response = ctx.client("secretsmanager").create_secret(**request)
    return Created(response["ARN"], {"arn": response["ARN"], "name": name})


@translates("aws:secretsmanager/secretVersion:SecretVersion")
def secret_version(ctx: Ctx) -> Created:
    request: dict[str, Any] = {"SecretId": ctx.inputs["secretId"]}
    # The write-only forms (``secretStringWo``) are sent the same way; only state differs.
    if string := ctx.inputs.get("secretString", ctx.inputs.get("secretStringWo")):
        request["SecretString"] = string
    else:
        request["SecretBinary"] = ctx.inputs["secretBinary"]
    if ctx.inputs.get("versionStages"):
        request["VersionStages"] = ctx.inputs["versionStages"]
    response = ctx.client("secretsmanager").put_secret_value(**request)
    return Created(
        f"{response['ARN']}|{response['VersionId']}",
        {"arn": response["ARN"], "versionId": response["VersionId"]},
    )


@translates("aws:cloudwatch/logGroup:LogGroup")
def log_group(ctx: Ctx) -> Created:
    name = ctx.physical_name()
    logs = ctx.client("logs")
    request: dict[str, Any] = {"logGroupName": name, "tags": ctx.tags}
    if ctx.inputs.get("kmsKeyId"):
        request["kmsKeyId"] = ctx.inputs["kmsKeyId"]
    if ctx.inputs.get("logGroupClass"):
        request["logGroupClass"] = ctx.inputs["logGroupClass"]
    logs.create_log_group(**request)
    if ctx.inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=ctx.inputs["retentionInDays"])
    unapplied = ["deletionProtectionEnabled"] if ctx.inputs.get("deletionProtectionEnabled") else []
    return Created(
        name,
        {"name": name, "arn": f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}"},
        unapplied=unapplied,
    )


@translates("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def iam_oidc_provider(ctx: Ctx) -> Created:
    request: dict[str, Any] = {
        "Url": ctx.inputs["url"],
        "ClientIDList": ctx.inputs["clientIdLists"],
        "Tags": ctx.tag_list(),
    }
    # Optional since pulumi-aws 7 (IAM trusts its own CA library for GitHub's certificate).
    if ctx.inputs.get("thumbprintLists"):
        request["ThumbprintList"] = ctx.inputs["thumbprintLists"]
    arn = ctx.client("iam").create_open_id_connect_provider(**request)["OpenIDConnectProviderArn"]
    return Created(arn, {"arn": arn})


@translates("aws:iam/serviceLinkedRole:ServiceLinkedRole")
def iam_service_linked_role(ctx: Ctx) -> Created:
    request: dict[str, Any] = {"AWSServiceName": ctx.inputs["awsServiceName"]}
    if ctx.inputs.get("description"):
        request["Description"] = ctx.inputs["description"]
    if ctx.inputs.get("customSuffix"):
        request["CustomSuffix"] = ctx.inputs["customSuffix"]
    iam = ctx.client("iam")
    role = iam.create_service_linked_role(**request)["Role"]
    # CreateServiceLinkedRole takes no tags: the provider tags the role afterwards.
    if ctx.tags:
        iam.tag_role(RoleName=role["RoleName"], Tags=ctx.tag_list())
    return Created(
        role["Arn"],
        {
            "arn": role["Arn"],
            "name": role["RoleName"],
            "path": role["Path"],
            "uniqueId": role["RoleId"],
        },
    )
